import type { DiagnosticCheck, GpuCapabilitiesInfo } from '../../../shared/contract.js';

/** The GPU as the Join screen shows it: a name, a badge, whether it is offered, and why not. */
export function describeGpu(gpu: GpuCapabilitiesInfo): {
  name: string;
  badge: string | null;
  usable: boolean;
  software: boolean;
  note: string;
} {
  const a = gpu.adapter;
  if (!a)
    return {
      name: 'No GPU detected',
      badge: null,
      usable: false,
      software: false,
      note: 'Jobs are hashed on the CPU. A supported graphics driver with WebGPU (Vulkan, Metal or D3D12) lets this node take GPU jobs too.',
    };
  const name =
    [a.vendor, a.description || a.device || a.architecture].filter((x) => x !== '').join(' ') || 'Unnamed adapter';
  if (a.software || a.isFallbackAdapter) {
    return {
      name,
      badge: 'Software adapter',
      usable: false,
      software: true,
      note: 'Not offered to the market: a software adapter runs on the CPU, so it is no faster than the CPU hasher and GPU jobs need real graphics hardware.',
    };
  }
  if (!gpu.hardware_gpu)
    return {
      name,
      badge: null,
      usable: false,
      software: false,
      note: 'Detected but not usable for jobs right now (turned off in Settings, or the GPU host stopped).',
    };
  return {
    name,
    badge: a.architecture || null,
    usable: true,
    software: false,
    note: 'Offered to the market: this node takes GPU jobs.',
  };
}

/** The Diagnostics headline: red only when a line needs the user; normal states are counted as notes. */
export function describeDiagnostics(checks: readonly Pick<DiagnosticCheck, 'severity'>[]): {
  tone: 'good' | 'bad';
  text: string;
} {
  const problems = checks.filter((c) => c.severity === 'problem').length;
  const notes = checks.filter((c) => c.severity === 'info').length;
  if (problems > 0)
    return {
      tone: 'bad',
      text:
        problems === 1
          ? 'One thing needs your attention: its fix is below.'
          : `${problems} things need your attention: each has its fix below.`,
    };
  return {
    tone: 'good',
    text:
      notes === 0
        ? 'Everything checks out: the node should be earning.'
        : `Nothing needs your attention. ${notes === 1 ? 'One note' : `${notes} notes`} below on how this node runs.`,
  };
}

/** Problems first, then notes, then what is fine; the node's order within each. */
export function orderChecks<T extends Pick<DiagnosticCheck, 'severity'>>(checks: readonly T[]): T[] {
  const rank = { problem: 0, info: 1, ok: 2 } as const;
  return checks
    .map((c, i) => ({ c, i }))
    .sort((a, b) => rank[a.c.severity] - rank[b.c.severity] || a.i - b.i)
    .map((x) => x.c);
}
