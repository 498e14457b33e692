import type { GpuCapabilitiesInfo } from '../../../shared/contract.js';

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

/** Why a market URL cannot be joined (one line), or null when it can. */
export function validateMarketUrl(text: string): string | null {
  const t = text.trim();
  if (t === '') return 'Enter the market URL, e.g. https://market.example.org.';
  let u: URL;
  try {
    u = new URL(t);
  } catch {
    return `"${t.slice(0, 60)}" is not a URL: it should look like https://market.example.org.`;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    return `Market URL must start with http:// or https:// (not ${u.protocol}).`;
  return null;
}
