import type { ProofBackend, Workload } from './workload.js';

/** Default speed-up the GPU must show over the CPU pool before Transcode/Inference use it. */
export const GPU_MIN_SPEEDUP = 1.2;

/** Slice sizes the start-up calibration measures by default: 64 KiB, 1 MiB, 8 MiB. */
export const CALIBRATION_SIZES: readonly number[] = [64 << 10, 1 << 20, 8 << 20];

/** One calibration measurement: throughput of the GPU host and of the CPU pool at one slice size. */
export interface CalibrationSample {
  bytes: number;
  gpuBytesPerSecond: number;
  cpuBytesPerSecond: number;
}

/** A measured sample with its verdict. */
export interface CalibrationPoint extends CalibrationSample {
  /** GPU throughput divided by CPU pool throughput. */
  speedup: number;
  /** True when Transcode/Inference slices of about this size go to the GPU. */
  gpu: boolean;
}

/** The start-up calibration: which slice sizes Transcode/Inference send to the GPU. */
export interface GpuCalibration {
  minSpeedup: number;
  points: CalibrationPoint[];
}

/** Turns measurements into a calibration: a size uses the GPU only where it measured ≥ `minSpeedup`×. */
export function buildCalibration(samples: readonly CalibrationSample[], minSpeedup = GPU_MIN_SPEEDUP): GpuCalibration {
  const points = [...samples]
    .sort((a, b) => a.bytes - b.bytes)
    .map((s) => {
      const speedup = s.cpuBytesPerSecond > 0 ? s.gpuBytesPerSecond / s.cpuBytesPerSecond : 0;
      return { ...s, speedup, gpu: Number.isFinite(speedup) && speedup >= minSpeedup };
    });
  return { minSpeedup, points };
}

/**
 * Whether a slice of `bytes` should use the GPU under `calibration`: the verdict of the
 * measured size nearest on a log scale (sizes outside the sweep take the nearest end).
 */
export function gpuPreferred(calibration: GpuCalibration | undefined, bytes: number): boolean {
  if (!calibration || calibration.points.length === 0) return false;
  const x = Math.log2(Math.max(1, bytes));
  let best = calibration.points[0] as CalibrationPoint;
  for (const p of calibration.points) {
    if (Math.abs(Math.log2(Math.max(1, p.bytes)) - x) < Math.abs(Math.log2(Math.max(1, best.bytes)) - x)) best = p;
  }
  return best.gpu;
}

/** What the runner knows about its GPU when it picks a backend for a slice. */
export interface GpuAvailability {
  /** A device can take work now. */
  ready: boolean;
  /** The adapter is a hardware GPU (not llvmpipe, SwiftShader, WARP…). */
  hardware: boolean;
  /** A software adapter was asked for explicitly (tests and benchmarks: `allowSoftwareAdapter`). */
  allowSoftware: boolean;
}

/** True when GPU work may go to this GPU: ready, and a hardware adapter unless software was asked for. */
export function gpuUsable(gpu: GpuAvailability | undefined): boolean {
  return gpu !== undefined && gpu.ready && (gpu.hardware || gpu.allowSoftware);
}

/**
 * Where a BLAKE3 slice runs: GpuHash on the GPU whenever a usable one is ready (a hardware
 * adapter, or a software adapter only when explicitly allowed); Transcode and Inference only
 * at sizes where the calibration measured that GPU faster; everything else on the CPU.
 */
export function chooseHashBackend(
  workload: Workload,
  bytes: number,
  gpu: GpuAvailability | undefined,
  calibration: GpuCalibration | undefined,
): ProofBackend {
  if (!gpuUsable(gpu)) return 'cpu';
  if (workload === 'gpuhash') return 'gpu';
  if (workload === 'transcode' || workload === 'inference') return gpuPreferred(calibration, bytes) ? 'gpu' : 'cpu';
  return 'cpu';
}
