/**
 * The detector's channels: list the models in settings.modelsDir, run a model on an open image, check how
 * an image looks to a model before a run, Grad-CAM for the same image, and the backend report for
 * `app.doctor`. Inference runs in one worker thread
 * (started on first use) so the event loop serving the UI never waits on TensorFlow.js.
 */
import type { AppearanceCheck, BackendReport, DetectionResult, GradCamResult, Handlers } from '../../preload/contract.ts';
import { toRGB8 } from '../imaging/index.ts';
import type { ServiceContext } from '../core/context.ts';
import { DetectorEngine } from './engine.ts';
import { mismatch, unfamiliar } from './fit.ts';
import { checkCard, findingThreshold, listModels, modelDir } from './io.ts';
import type { RGBImage } from './preprocess.ts';

type DetectorChannels = 'models.list' | 'detector.run' | 'detector.gradcam' | 'detector.appearance';

export interface DetectorService {
  handlers: Pick<Handlers, DetectorChannels>;
  backendReport(): Promise<BackendReport>;
  close(): Promise<void>;
}

/** A report fit for the contract (drops the engine's internal fields). */
export function toBackendReport(state: BackendReport, extraNotes: string[] = []): BackendReport {
  return { backend: state.backend, runtime: state.runtime, gpu: state.gpu, threads: state.threads, versions: { ...state.versions }, notes: [...state.notes, ...extraNotes] };
}

export function createDetectorHandlers(ctx: ServiceContext): DetectorService {
  let engine: DetectorEngine | null = null;
  const getEngine = () => (engine ??= new DetectorEngine({ workers: 1, backend: ctx.settings.backend, runtime: ctx.settings.runtime, log: ctx.log }));

  async function imageRGB(imageId: string, frame: number): Promise<RGBImage> {
    const summary = ctx.images.summary(imageId);
    const pixels = await ctx.images.frame(imageId, frame);
    const window = summary.windows[0];
    return toRGB8(pixels, window ? { center: window.center, width: window.width } : undefined);
  }

  /**
   * Whether an image is a model's kind: what it declares, checked here before the pixels go to the worker
   * (transferred, they are gone from here after); then `verdict` adds what the model's own features say. One
   * rule for a run and for the check before one.
   */
  function declaredFit(model: string, dir: string, imageId: string, image: RGBImage): { verdict(appearance: { score: number; threshold: number } | undefined): string | undefined } {
    const summary = ctx.images.summary(imageId);
    const use = checkCard(dir)?.intendedUse;
    const declared = mismatch(model, use, { kind: summary.kind, modality: summary.modality, rgb: image });
    return { verdict: (appearance) => declared ?? unfamiliar(model, use, appearance) };
  }

  return {
    handlers: {
      'models.list': async () => listModels(ctx.settings.modelsDir, (m) => ctx.log(`models.list: ${m}`)),

      'detector.run': async (req): Promise<DetectionResult> => {
        const dir = modelDir(ctx.settings.modelsDir, req.model);
        const image = await imageRGB(req.imageId, req.frame);
        const fit = declaredFit(req.model, dir, req.imageId, image);
        const e = getEngine();
        const threshold = findingThreshold(dir, req.threshold);
        const [state, r] = await Promise.all([e.backend(), e.detect(dir, image, { threshold, flips: req.flips, transfer: true })]);
        const wrong = fit.verdict(r.appearance);
        return { imageId: req.imageId, frame: req.frame, model: req.model, variant: r.variant, backend: state.backend, ms: r.ms, passes: r.passes, heatmap: r.heatmap, attention: r.attention, findings: r.findings, lesionScore: r.lesionScore, threshold, ...(r.appearance ? { appearance: r.appearance } : {}), ...(wrong ? { mismatch: wrong } : {}) };
      },

      'detector.appearance': async (req): Promise<AppearanceCheck> => {
        const dir = modelDir(ctx.settings.modelsDir, req.model);
        const image = await imageRGB(req.imageId, req.frame);
        const fit = declaredFit(req.model, dir, req.imageId, image);
        const appearance = await getEngine().appearance(dir, image, { flips: req.flips, transfer: true });
        const wrong = fit.verdict(appearance);
        return { imageId: req.imageId, frame: req.frame, model: req.model, ...(appearance ? { appearance } : {}), ...(wrong ? { mismatch: wrong } : {}) };
      },

      'detector.gradcam': async (req): Promise<GradCamResult> => {
        const dir = modelDir(ctx.settings.modelsDir, req.model);
        const image = await imageRGB(req.imageId, req.frame);
        const r = await getEngine().gradcam(dir, image, req.layer);
        if (r.note) ctx.log(`detector.gradcam: ${r.note}`);
        return { imageId: req.imageId, frame: req.frame, model: req.model, layer: r.layer, map: r.map };
      },
    },

    async backendReport(): Promise<BackendReport> {
      const e = getEngine();
      return toBackendReport(await e.backend(), [`inference in ${e.size} worker thread(s); batch analysis uses one per core`]);
    },

    async close() {
      await engine?.close();
      engine = null;
    },
  };
}
