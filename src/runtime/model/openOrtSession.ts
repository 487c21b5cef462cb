/**
 * Opens an onnxruntime-node session on the requested device. `auto` tries CUDA, then WebGPU, then
 * the CPU; an explicit `cuda` or `webgpu` that cannot start falls back to the CPU too. Each fallback
 * is logged once, with the provider's own reason, through the `log` callback (never the console).
 */
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import ort from 'onnxruntime-node';

export type Device = 'auto' | 'cpu' | 'cuda' | 'webgpu';
export type ConcreteDevice = Exclude<Device, 'auto'>;
export const DEVICES: readonly Device[] = ['auto', 'cpu', 'cuda', 'webgpu'];

export interface OrtSessionOptions {
  readonly device: Device;
  /** Threads inside one operator (0 = onnxruntime's default: one per core). */
  readonly intraOpThreads?: number;
  /** Threads across independent operators (0 = default). */
  readonly interOpThreads?: number;
  readonly log: (message: string) => void;
  /** Extra options for a provider (tests use it to force a failure). */
  readonly providerOptions?: Partial<Record<ConcreteDevice, Record<string, unknown>>>;
  /** Folder of the model's external data files, when the model bytes refer to some. */
  readonly externalDataFolder?: string;
  /** Check for the Vulkan loader before trying WebGPU (default true; tests turn it off to reach onnxruntime's own failure). */
  readonly precheck?: boolean;
}

export interface OpenedSession {
  readonly session: ort.InferenceSession;
  readonly device: ConcreteDevice;
}

const CHAIN: Record<Device, ConcreteDevice[]> = {
  auto: ['cuda', 'webgpu', 'cpu'],
  cuda: ['cuda', 'cpu'],
  webgpu: ['webgpu', 'cpu'],
  cpu: ['cpu'],
};

const HINT: Partial<Record<ConcreteDevice, string>> = {
  cuda: 'this onnxruntime-node install has no CUDA provider; see README "GPU" to install it',
  webgpu: 'WebGPU needs a GPU with a Vulkan driver and the Vulkan loader (libvulkan.so.1)',
};

/**
 * On Linux, WebGPU (Dawn) reaches the GPU through Vulkan. Without the loader, Dawn prints a
 * multi-line warning of its own before failing, so we look for libvulkan.so.1 first and give the
 * reason in one line. Returns null when WebGPU is worth trying.
 */
export function webgpuPrecheck(): string | null {
  if (process.platform !== 'linux') return null;
  const lib = 'libvulkan.so.1';
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(delimiter).filter(Boolean), '/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib', '/usr/lib/aarch64-linux-gnu'];
  if (dirs.some((d) => existsSync(join(d, lib)))) return null;
  try {
    if (readFileSync('/etc/ld.so.cache').includes(lib)) return null;
  } catch {
    // no cache: fall through
  }
  return `the Vulkan loader (${lib}) is not installed`;
}

/** The provider's reason, without onnxruntime's source-file prefix, on one line. */
export function shortReason(err: unknown): string {
  const msg = (err as Error)?.message ?? String(err);
  const line = msg.split('\n').find((l) => l.trim()) ?? msg;
  // "/onnxruntime_src/.../webgpu_context.cc:136 ...lambda()> adapter_result.status == ... was false. Failed to get ..."
  const tail = line.replace(/^.*?\.(cc|cpp|h):\d+\s+/, '');
  const m = tail.match(/(?:was false\.\s*)(.*)$/);
  return (m ? m[1] : tail).trim().slice(0, 300);
}

export async function openOrtSession(model: Uint8Array | string, options: OrtSessionOptions): Promise<OpenedSession> {
  const chain = CHAIN[options.device];
  if (!chain) throw new Error(`unknown device ${String(options.device)}`);
  // onnxruntime-node prints a failed CUDA load through its process-wide logger at error level (the
  // level is read once, at the first session). Every failure reaches us as an exception anyway and
  // is logged by the caller in one line, so only fatal messages are let through.
  ort.env.logLevel = 'fatal';
  let lastError: unknown;
  for (let i = 0; i < chain.length; i++) {
    const device = chain[i];
    const last = i === chain.length - 1;
    const skip = device === 'webgpu' && options.precheck !== false ? webgpuPrecheck() : null;
    if (skip !== null) {
      options.log(`device ${options.device}: webgpu unavailable: ${skip}; falling back to ${chain[i + 1]}`);
      continue;
    }
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      executionProviders: [device === 'cpu' ? 'cpu' : ({ name: device, ...(options.providerOptions?.[device] ?? {}) } as ort.InferenceSession.ExecutionProviderConfig)],
      graphOptimizationLevel: 'all',
      executionMode: 'sequential',
      intraOpNumThreads: options.intraOpThreads ?? 0,
      interOpNumThreads: options.interOpThreads ?? 0,
      // A provider we only probe would print its own failure at error level; the fallback line
      // below says it once, in our words. The final attempt keeps error logging.
      logSeverityLevel: last ? 3 : 4,
      ...(options.externalDataFolder ? { extra: { session: { model_external_initializers_file_folder_path: options.externalDataFolder } } } : {}),
    };
    try {
      const session = typeof model === 'string' ? await ort.InferenceSession.create(model, sessionOptions) : await ort.InferenceSession.create(model, sessionOptions);
      return { session, device };
    } catch (err) {
      lastError = err;
      if (last) break;
      const hint = HINT[device] ? ` (${HINT[device]})` : '';
      options.log(`device ${options.device}: ${device} unavailable: ${shortReason(err)}${hint}; falling back to ${chain[i + 1]}`);
    }
  }
  throw lastError;
}
