/**
 * onnxruntime intra-op threads per inference worker: the cores shared out among the workers. Batch runs
 * one worker per core, so each gets one thread (no oversubscription, best throughput); an interactive
 * engine has one worker and takes up to 4 threads for latency (more barely helps a net this small).
 */
export function threadsPerWorker(workers: number, cores: number): number {
  return Math.max(1, Math.min(4, Math.floor(cores / Math.max(1, workers))));
}
