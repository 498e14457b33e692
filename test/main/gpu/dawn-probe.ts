import { ComputeClient } from '../../../src/main/gpu/compute-client.js';
import { openDawnChannel, type DawnBackend } from '../../../src/main/gpu/dawn-host.js';

/** Whether Dawn finds an adapter on `backends` here; the reason when it does not. */
export async function probeDawn(
  backends: DawnBackend[] = ['opengles'],
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const client = new ComputeClient(openDawnChannel({ backends }));
  try {
    const init = await client.init();
    return init.ok
      ? { ok: true }
      : {
          ok: false,
          reason: `Dawn found no adapter (${init.message}); install Mesa: libegl1 libegl-mesa0 libegl-dev libgl1-mesa-dri`,
        };
  } catch (err) {
    return { ok: false, reason: `Dawn did not start: ${String(err)}` };
  } finally {
    await client.close();
  }
}
