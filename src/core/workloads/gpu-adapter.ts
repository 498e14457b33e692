/** What a WebGPU adapter says about itself (GPUAdapterInfo plus the feature level it runs at). */
export interface GpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  isFallbackAdapter: boolean;
  featureLevel: 'core' | 'compatibility';
}

/** The GPU part of the capabilities a provider reports to the UI and announces to a market. */
export interface GpuCapabilities {
  /** True only for a hardware adapter: `gpu_required` jobs are taken only then. */
  hardware_gpu: boolean;
  /** The adapter in use, or null when none is available. */
  adapter: (GpuAdapterInfo & { software: boolean }) | null;
}

/**
 * Names of software rasterisers/adapters. Dawn reports Mesa's llvmpipe with
 * `isFallbackAdapter: false` and empty vendor/architecture, so the device and description
 * strings are checked too.
 */
const SOFTWARE_ADAPTER =
  /llvmpipe|lavapipe|softpipe|swiftshader|swrast|software rasterizer|microsoft basic render|\bwarp\b/i;

/** True when the adapter is a CPU implementation of WebGPU rather than a GPU. */
export function isSoftwareAdapter(info: GpuAdapterInfo): boolean {
  if (info.isFallbackAdapter) return true;
  return [info.vendor, info.architecture, info.device, info.description].some((s) => SOFTWARE_ADAPTER.test(s));
}

/**
 * The GPU capabilities to report for an adapter (or none). A software adapter is never
 * announced as a hardware GPU.
 */
export function gpuCapabilities(info: GpuAdapterInfo | null): GpuCapabilities {
  if (!info) return { hardware_gpu: false, adapter: null };
  const software = isSoftwareAdapter(info);
  return { hardware_gpu: !software, adapter: { ...info, software } };
}
