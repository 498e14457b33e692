import { describe, expect, it } from 'vitest';
import { gpuCapabilities, isSoftwareAdapter, type GpuAdapterInfo } from '../../src/core/workloads/gpu-adapter.js';
import {
  buildCalibration,
  chooseHashBackend,
  gpuPreferred,
  gpuUsable,
  type GpuAvailability,
} from '../../src/core/workloads/gpu-dispatch.js';

const adapter = (over: Partial<GpuAdapterInfo>): GpuAdapterInfo => ({
  vendor: '',
  architecture: '',
  device: '',
  description: '',
  isFallbackAdapter: false,
  featureLevel: 'core',
  ...over,
});

describe('GPU adapter classification', () => {
  it('recognises software adapters even when they do not say they are a fallback', () => {
    // What Dawn reports for Mesa llvmpipe through OpenGL ES (vendor/architecture empty).
    const llvmpipe = adapter({
      device: 'llvmpipe-llvm-15-0-6-256-bits-',
      description: 'OpenGL version OpenGL ES 3.2 Mesa 22.3.6',
      featureLevel: 'compatibility',
    });
    expect(isSoftwareAdapter(llvmpipe)).toBe(true);
    expect(isSoftwareAdapter(adapter({ vendor: 'google', architecture: 'swiftshader', isFallbackAdapter: true }))).toBe(
      true,
    );
    expect(isSoftwareAdapter(adapter({ vendor: 'google', architecture: 'swiftshader' }))).toBe(true);
    expect(
      isSoftwareAdapter(
        adapter({ vendor: 'mesa', device: 'lavapipe', description: 'llvmpipe (LLVM 15.0.6, 256 bits)' }),
      ),
    ).toBe(true);
    expect(isSoftwareAdapter(adapter({ description: 'Microsoft Basic Render Driver' }))).toBe(true);
    expect(isSoftwareAdapter(adapter({ isFallbackAdapter: true }))).toBe(true);
  });

  it('accepts hardware adapters', () => {
    expect(
      isSoftwareAdapter(adapter({ vendor: 'nvidia', architecture: 'ampere', description: 'NVIDIA GeForce RTX 3080' })),
    ).toBe(false);
    expect(
      isSoftwareAdapter(
        adapter({ vendor: 'amd', architecture: 'rdna-3', device: 'AMD Radeon RX 7900 XT (RADV NAVI31)' }),
      ),
    ).toBe(false);
    expect(
      isSoftwareAdapter(
        adapter({ vendor: 'intel', architecture: 'gen-12lp', description: 'Mesa Intel(R) Xe Graphics (TGL GT2)' }),
      ),
    ).toBe(false);
  });

  it('never announces a software adapter as a hardware GPU', () => {
    const sw = adapter({ device: 'llvmpipe' });
    expect(gpuCapabilities(sw)).toEqual({ hardware_gpu: false, adapter: { ...sw, software: true } });
    expect(gpuCapabilities(adapter({ vendor: 'nvidia' })).hardware_gpu).toBe(true);
    expect(gpuCapabilities(null)).toEqual({ hardware_gpu: false, adapter: null });
  });
});

describe('calibration-based dispatch', () => {
  const cal = buildCalibration([
    { bytes: 8 << 20, gpuBytesPerSecond: 3e9, cpuBytesPerSecond: 2e9 }, // 1.5×
    { bytes: 64 << 10, gpuBytesPerSecond: 1e8, cpuBytesPerSecond: 1e9 }, // 0.1×
    { bytes: 1 << 20, gpuBytesPerSecond: 1.19e9, cpuBytesPerSecond: 1e9 }, // just under 1.2×
  ]);

  it('uses the GPU only where it measured at least 1.2× the CPU pool', () => {
    expect(cal.points.map((p) => [p.bytes, p.gpu])).toEqual([
      [64 << 10, false],
      [1 << 20, false],
      [8 << 20, true],
    ]);
    expect(cal.points[2]?.speedup).toBeCloseTo(1.5);
  });

  it('applies the nearest measured size on a log scale', () => {
    expect(gpuPreferred(cal, 1)).toBe(false);
    expect(gpuPreferred(cal, 2 << 20)).toBe(false);
    expect(gpuPreferred(cal, 4 << 20)).toBe(true); // log2 distance: 1 MiB is 2 away, 8 MiB is 1
    expect(gpuPreferred(cal, 1 << 30)).toBe(true);
    expect(gpuPreferred(undefined, 1 << 30)).toBe(false);
  });

  const hw: GpuAvailability = { ready: true, hardware: true, allowSoftware: false };
  const sw: GpuAvailability = { ready: true, hardware: false, allowSoftware: false };
  const swAllowed: GpuAvailability = { ...sw, allowSoftware: true };

  it('sends GpuHash to a ready hardware GPU, Transcode/Inference per calibration, Synthetic to the CPU', () => {
    expect(chooseHashBackend('gpuhash', 10, hw, undefined)).toBe('gpu');
    expect(chooseHashBackend('gpuhash', 10, { ...hw, ready: false }, cal)).toBe('cpu');
    expect(chooseHashBackend('gpuhash', 10, undefined, cal)).toBe('cpu');
    expect(chooseHashBackend('transcode', 64 << 20, hw, cal)).toBe('gpu');
    expect(chooseHashBackend('inference', 64 << 10, hw, cal)).toBe('cpu');
    expect(chooseHashBackend('transcode', 64 << 20, hw, undefined)).toBe('cpu');
    expect(chooseHashBackend('synthetic', 64 << 20, hw, cal)).toBe('cpu');
  });

  it('gives a software adapter no work unless it was explicitly allowed, even where calibration says faster', () => {
    for (const workload of ['gpuhash', 'transcode', 'inference'] as const)
      expect(chooseHashBackend(workload, 64 << 20, sw, cal)).toBe('cpu');
    expect(gpuUsable(sw)).toBe(false);
    expect(chooseHashBackend('gpuhash', 10, swAllowed, undefined)).toBe('gpu');
    expect(chooseHashBackend('transcode', 64 << 20, swAllowed, cal)).toBe('gpu');
    expect(chooseHashBackend('gpuhash', 10, { ...swAllowed, ready: false }, undefined)).toBe('cpu');
  });

  it('never prefers the GPU on a failed measurement', () => {
    const zero = buildCalibration([{ bytes: 1 << 20, gpuBytesPerSecond: 0, cpuBytesPerSecond: 0 }]);
    expect(zero.points[0]?.gpu).toBe(false);
  });
});
