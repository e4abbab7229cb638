/**
 * The one contract between the renderer and the services.
 *
 * Every call and event that crosses a process boundary (Electron IPC, or the browser host's HTTP and
 * WebSocket) is declared here: a zod schema for what the renderer may send, a TypeScript type for what
 * comes back. Main validates every request against its schema before any service sees it, so a service
 * can trust its input; the renderer and the host import these same types, so a change here is a compile
 * error everywhere it matters.
 *
 * This module must stay free of Node and DOM APIs: it is bundled into the preload, the renderer and main.
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------------
// Shared shapes

/** A scalar map over the full extent of an image frame (row-major, `width * height` values). */
export interface Map2D {
  width: number;
  height: number;
  data: Float32Array;
}

/** `[x0, y0, x1, y1]` in the original image's pixel coordinates (x to the right, y down). */
export type Box = [number, number, number, number];

export interface Finding {
  box: Box;
  score: number;
  /** Lesion area in image pixels (from the thresholded probability map's component). */
  area: number;
}

export interface StudioErrorShape {
  code: ErrorCode;
  message: string;
  /** The file, field or id the error is about, when there is one. */
  subject?: string;
}

export type ErrorCode =
  | 'INVALID_PAYLOAD'
  | 'UNKNOWN_CHANNEL'
  | 'NOT_FOUND'
  | 'UNSUPPORTED'
  | 'DECODE_FAILED'
  | 'TOO_LARGE'
  | 'MODEL_LOAD_FAILED'
  | 'BUSY'
  | 'CANCELLED'
  | 'UNAUTHORIZED'
  /** A path outside the folders the user allowed (main/host/paths.ts): the message names the path and how to allow it. */
  | 'FORBIDDEN'
  | 'INTERNAL';

/** What crosses the wire for every call: a value, or a typed error. Never a thrown string. */
export type Envelope<T> = { ok: true; value: T } | { ok: false; error: StudioErrorShape };

// ---------------------------------------------------------------------------------------------------
// Imaging

export interface ImageSummary {
  /** Opaque id of the decoded image in this session. */
  id: string;
  name: string;
  /** Absolute path when the image came from disk; absent for uploads. */
  path?: string;
  kind: 'dicom' | 'raster';
  rows: number;
  columns: number;
  frames: number;
  /** 1 for greyscale (after palette/YBR conversion colour images report 3). */
  channels: 1 | 3;
  photometric: string;
  bitsStored: number;
  transferSyntax?: string;
  modality?: string;
  study: { uid?: string; description?: string; date?: string; patientName?: string; patientId?: string };
  series: { uid?: string; description?: string; number?: number };
  instance: { uid?: string; number?: number };
  /** The file's own windows (VOI), the default first; computed from the data when the file has none. */
  windows: { center: number; width: number; explanation?: string }[];
  /** Range of the display values (after the modality LUT) over the first frame. */
  valueRange: { min: number; max: number };
  /**
   * The linear modality transform, value = stored × slope + intercept (frame 0's for enhanced multi-frame
   * objects), so a stored value can be shown beside the modality value. Absent for rasters, colour images
   * and DICOM files with a modality LUT sequence (not linear).
   */
  rescale?: { slope: number; intercept: number; type?: string };
  /** Small RGBA preview (at most 96 px on the long side) for the study list. */
  thumbnail: { width: number; height: number; rgba: Uint8Array };
}

export interface FramePixels {
  id: string;
  frame: number;
  rows: number;
  columns: number;
  channels: 1 | 3;
  /**
   * Greyscale: values after the modality LUT (rescale or LUT sequence), one float per pixel.
   * Colour: interleaved RGB bytes (palette and YBR already converted).
   */
  data: Float32Array | Uint8Array;
  /** MONOCHROME1: the renderer shows high values dark. */
  invert: boolean;
  /** VOI LUT sequence, when the file has one and the user picks it instead of a window. */
  voiLut?: { firstMapped: number; bits: number; data: Uint16Array | Uint8Array; explanation?: string };
  min: number;
  max: number;
}

export interface OpenResult {
  images: ImageSummary[];
  /** Files that could not be opened: each names the file and the reason; the others still open. */
  errors: { file: string; message: string }[];
}

// ---------------------------------------------------------------------------------------------------
// Detector

/** Weight of the supervision of the spatial gate nearest the output by the lesion mask in training (see main/training/objective.ts). */
export const DEFAULT_ATTENTION_WEIGHT = 0.5;

/**
 * A model's square input side: the network is fully convolutional with a deepest stride of 16, so any
 * multiple of 16 from 32 works (main/detector/model.ts builds to this rule).
 */
export const INPUT_SIZE = { min: 32, max: 1024, multipleOf: 16 } as const;

/**
 * What a training run uses when the request leaves a field out: one set of defaults for the Training panel,
 * `studio train` and the services (the contract's schema applies them). 192² is what the shipped polyp and
 * breast-ultrasound models run at, and a step there costs about half a 256² step on a laptop's cores.
 */
export const TRAINING_DEFAULTS = {
  format: 'masks',
  epochs: 10,
  batchSize: 8,
  inputSize: 192,
  learningRate: 1e-3,
  seed: 42,
  attentionWeight: DEFAULT_ATTENTION_WEIGHT,
  augmentation: 'standard',
} as const;
/**
 * What adapting a model to a site's reviewed images starts from when a request names nothing else: chosen for
 * a few hundred frames on a laptop's CPU. A low learning rate and early stopping on the site's validation
 * split keep the base's knowledge; lesion-free images from the base's own training share stay in the mix
 * (at `negativeShare` of the site's training images) so the adapted model does not forget "nothing here".
 */
export const ADAPT_DEFAULTS = {
  epochs: 20,
  learningRate: 3e-4,
  /**
   * Epochs without a better validation score before the run stops and keeps its best epoch: a site's
   * validation part is a few dozen images, whose score wanders by a few points from epoch to epoch.
   */
  patience: 5,
  negativeShare: 0.5,
  seed: 42,
  /** Train, validation and test shares of the site's sequences. */
  ratios: [0.6, 0.2, 0.2] as [number, number, number],
} as const;

/** A training set smaller than this cannot teach a model anything it can be trusted with. */
export const MIN_TRAINING_IMAGES = 10;

export const VARIANTS = ['baseline', 'se', 'cbam', 'nonlocal'] as const;

/** The variants with CBAM spatial gates (nonlocal is CBAM plus self-attention): the ones whose gate can be supervised. */
export function hasSpatialGates(variant: string): boolean {
  return variant === 'cbam' || variant === 'nonlocal';
}
export type Variant = (typeof VARIANTS)[number];

/** Training augmentation presets; main/training/data.ts applies their ranges (AUGMENTATION_RANGES). */
export const AUGMENTATION_PRESETS = ['standard', 'strong', 'overlays', 'devices'] as const;
export type AugmentationPreset = (typeof AUGMENTATION_PRESETS)[number];

export interface AugmentationRanges {
  rotationDeg: number;
  /** Drawn uniformly from `from` to `from + span` (a span, not an end, so the draw is `from + u·span`). */
  scale: { from: number; span: number };
  /** Largest shift each way, as a share of the side. */
  translate: number;
  brightness: number;
  contrast: { from: number; span: number };
  /** Gamma drawn log-uniformly from [1/g, g]; 1 = none. */
  gamma: number;
  /** Standard deviation of multiplicative (speckle-like) noise; 0 = none. */
  speckle: number;
  /**
   * Share of images that get a black box over one of their corners (20–35% of each side): burned-in
   * overlays and blacked-out thumbnails occur in lesion and lesion-free frames alike, so a model must not
   * read a black (or any) corner as a sign either way. 0 = none.
   */
  occlusion?: number;
  /**
   * Colour as another camera and processor render it: each channel's gain drawn log-uniformly from
   * [1/(1+gain), 1+gain] (white balance), and saturation from `saturation` (0 = grey, 1 = as is). Absent = none.
   */
  colour?: { gain: number; saturation: { from: number; span: number } };
}

export const AUGMENTATION_RANGES: Record<AugmentationPreset, AugmentationRanges> = {
  // What every shipped model trained with.
  standard: { rotationDeg: 15, scale: { from: 0.85, span: 0.3 }, translate: 0, brightness: 0.15, contrast: { from: 0.8, span: 0.4 }, gamma: 1, speckle: 0 },
  // Shifts break the centre prior of sets where lesions sit mid-frame; gamma and speckle mimic the gain
  // and speckle differences between ultrasound machines.
  strong: { rotationDeg: 25, scale: { from: 0.75, span: 0.55 }, translate: 0.12, brightness: 0.2, contrast: { from: 0.7, span: 0.6 }, gamma: 1.4, speckle: 0.08 },
  // The standard ranges, and corner boxes: for data mixing sources whose frames carry masks and thumbnails
  // in their corners (HyperKvasir's normal frames have the lower-left box black, Kvasir-SEG's polyps often
  // show a green thumbnail there).
  overlays: { rotationDeg: 15, scale: { from: 0.85, span: 0.3 }, translate: 0, brightness: 0.15, contrast: { from: 0.8, span: 0.4 }, gamma: 1, speckle: 0, occlusion: 0.5 },
  // The overlays preset, and what differs between endoscopy cameras and processors: white balance,
  // saturation and tone curve. For a model meant to hold at hospitals whose devices it never saw.
  devices: { rotationDeg: 15, scale: { from: 0.85, span: 0.3 }, translate: 0, brightness: 0.15, contrast: { from: 0.8, span: 0.4 }, gamma: 1.25, speckle: 0, occlusion: 0.5, colour: { gain: 0.15, saturation: { from: 0.7, span: 0.6 } } },
};

/** A preset in words, for model cards, the CLI's usage and the Training panel. */
export function describeAugmentation(preset: AugmentationPreset): string {
  const r = AUGMENTATION_RANGES[preset];
  const range = (x: { from: number; span: number }) => `${x.from}–${+(x.from + x.span).toFixed(2)}`;
  return [
    'flips',
    `rotation ±${r.rotationDeg}°`,
    `scale ${range(r.scale)}`,
    ...(r.translate ? [`shift ±${Math.round(r.translate * 100)}%`] : []),
    `brightness ±${r.brightness}`,
    `contrast ${range(r.contrast)}`,
    ...(r.gamma !== 1 ? [`gamma ${(1 / r.gamma).toFixed(2)}–${r.gamma}`] : []),
    ...(r.speckle ? [`speckle noise σ ${r.speckle}`] : []),
    ...(r.occlusion ? [`a black box over a corner of ${Math.round(r.occlusion * 100)}% of images`] : []),
    ...(r.colour ? [`channel gains ${(1 / (1 + r.colour.gain)).toFixed(2)}–${1 + r.colour.gain}`, `saturation ${range(r.colour.saturation)}`] : []),
  ].join(', ');
}

/** Test-time mirror averaging: none, `h` (the left–right mirror too), `hv` (all four mirror images). */
export const FLIP_SETS = ['none', 'h', 'hv'] as const;
export type FlipSet = (typeof FLIP_SETS)[number];
/** Images the network runs for one prediction with each set: the input and its mirror images. */
export const FLIP_VIEWS: Readonly<Record<FlipSet, number>> = { none: 1, h: 2, hv: 4 };

/** Where evaluation found a model's split of the data: stored with the model (its own held-out images), or recomputed. */
export const SPLIT_SOURCES = { stored: 'model split.json', recomputed: 'recomputed with the model seed', given: 'images named by the caller' } as const;

const score = z.number().min(0).max(1);
const count = z.number().int().min(0);
const frocPoint = z.object({ fpPerImage: z.number().positive(), sensitivity: score });
type FrocPoint = z.infer<typeof frocPoint>;

/** One image's scores in an evaluation report. */
const imageScore = z.object({
  /** The sample's id within the dataset (its file name under images/). */
  id: z.string(),
  /** Dice of the thresholded lesion map (1 when both it and the mask are empty). */
  dice: score,
  lesions: count,
  /**
   * Lesions found, and predictions hitting none, at the report's 1 FP/image operating point: the score
   * threshold at which sens@1 is read, so `found` summed over images over `lesions` is sens@1.
   */
  found: count,
  falsePositives: count,
  /** Lesions the pointing-game map's maximum lies in (0 or 1 with one maximum per image). */
  pointed: count,
  /** The lesion map's peak over the image: its image-level score. */
  score: score.optional(),
  /** Findings at the model's own finding threshold: what the viewer draws on this image. */
  findings: count.optional(),
});
type ImageScore = z.infer<typeof imageScore>;

/**
 * What a clinician will tolerate on frames without a lesion: at most one finding in ten such frames. The
 * operating point is calibrated to it, and the viewer offers models whose held-out figures keep to it first.
 */
export const MAX_FP_PER_NEGATIVE = 0.1;

/**
 * An evaluation of one model on one dataset split: what `studio evaluate` and `studio compare` write, what
 * `evaluation.compare` returns, and (without its curve and per-image scores) what a model card keeps.
 * Fields added over time are optional, so older reports and cards still read.
 */
export const evaluationReportSchema = z.looseObject({
  model: z.string(),
  data: z.string(),
  split: z.enum(['train', 'val', 'test']),
  images: count,
  /**
   * Which images were scored: a digest of their sorted ids. Each model's own split decides its test
   * images, so two reports are only comparable when this is the same.
   */
  imageSet: z.string().optional(),
  lesions: count,
  froc: z.array(frocPoint),
  ap50: score,
  dice: score,
  iou: score,
  /** Share of lesions whose attention-map maximum falls inside them (one maximum per image). */
  pointingGame: score,
  /** The pointing game as Zhang et al. (2016) score it, per image: images with a lesion whose attention maximum falls inside one. */
  pointingGameImages: score.optional(),
  latencyMs: z.number().min(0),
  /**
   * Where to cut findings at the 1 FP/image operating point: `found` and `falsePositives` in `perImage`
   * count the findings scoring at least this, so a viewer that cuts boxes here shows what the comparison
   * counted. It lies halfway between the lowest kept score and the highest dropped one, so a re-run whose
   * scores differ in the last digits keeps the same findings. Null when no cut stays within 1 FP/image.
   */
  operatingScore1FP: z.number().nullable().optional(),
  /** Each scored image's own outcome, in scoring order: what Compare lists where models differ. Left out of model cards. */
  perImage: z.array(imageScore).optional(),
  /** The backend that ran the network. */
  backend: z.string().optional(),
  /** The mirror images each prediction averaged over. */
  flips: z.enum(FLIP_SETS).optional(),
  /** Threshold of the lesion map for Dice/IoU, and the one whose connected components are candidate lesions (FROC, AP). */
  threshold: z.number().optional(),
  candidateThreshold: z.number().optional(),
  /** Sensitivity at 1 FP/image and mean Dice at each candidate threshold: what `--calibrate` picks from. */
  sensitivity1FPByCandidateThreshold: z.record(z.string(), z.number()).optional(),
  /** Findings per lesion-free image at each candidate threshold (with lesion-free images): the operating point's other side. */
  fpPerNegativeImageByCandidateThreshold: z.record(z.string(), z.number()).optional(),
  diceByThreshold: z.record(z.string(), z.number()).optional(),
  sensitivity1FP: score.optional(),
  /** The whole FROC curve (the report file and Compare's plot; left out of model cards). */
  frocCurve: z.array(frocPoint).optional(),
  /** Which map the pointing game used: the supervised spatial gate, or the lesion heatmap (baseline). */
  pointingSource: z.string().optional(),
  pointingByModule: z.record(z.string(), z.number()).optional(),
  /** The most the per-lesion pointing game can reach with one maximum per map: images with a lesion over lesions. */
  pointingCeiling: z.number().optional(),
  latency: z.object({ mean: z.number(), median: z.number(), p95: z.number(), batch1: z.boolean() }).optional(),
  /** Lesion-free images among those scored (no lesion in their truth): Dice and IoU are over the others. */
  negatives: count.optional(),
  /** The folders of lesion-free images scored beside the data, when some were. */
  negativeFolders: z.array(z.string()).optional(),
  /** At the model's own finding threshold (what the viewer draws): findings per lesion-free image, and the share of them with any. */
  fpPerNegativeImage: z.number().min(0).nullable().optional(),
  negativesWithFindings: score.nullable().optional(),
  /** "Any finding" as an image-level call, at that threshold: the share of lesion images called, and of lesion-free images not called. */
  imageSensitivity: score.nullable().optional(),
  imageSpecificity: score.nullable().optional(),
  /** How well the lesion map's peak ranks lesion images above lesion-free ones (null without both kinds). */
  imageAUROC: score.nullable().optional(),
  /** Whether the images were the model's own stored split (held out from its training) or a recomputed one. */
  splitSource: z.enum([SPLIT_SOURCES.stored, SPLIT_SOURCES.recomputed, SPLIT_SOURCES.given]).optional(),
  /**
   * The model's appearance score on these images (DetectionResult.appearance), when it has statistics: the
   * share above its threshold (what the viewer would call unfamiliar), and the scores' median and 95th
   * percentile. On another hospital's images this says how far they sit from the model's training images.
   */
  appearance: z.object({ threshold: z.number(), unfamiliarShare: score, median: z.number(), p95: z.number() }).optional(),
  /**
   * The same images as other devices would render them (`studio evaluate --renderings`; for colour frames
   * white balance, saturation, tone curve, blur; for grey ultrasound gain, contrast, dynamic range,
   * speckle, resolution): each rendering's figures at the report's own thresholds. How far they fall from
   * the report's own is what to expect of the model at a hospital whose devices it never saw.
   * `unfamiliarShare`: of the rendered images, the share the model's appearance score flags (as
   * `appearance.unfamiliarShare`), for a model with statistics: how often the viewer would warn "not an
   * image like my training images" on such a device's frames of its own kind of image.
   */
  renderings: z
    .record(
      z.string(),
      z.object({ sensitivity1FP: score, dice: score, fpPerNegativeImage: z.number().min(0).nullable(), imageAUROC: score.nullable(), unfamiliarShare: score.optional() }),
    )
    .optional(),
});
type EvaluationReport = z.infer<typeof evaluationReportSchema>;

/** The summary of an evaluation that a model card keeps: the report without its curve and per-image scores. */
export const cardMetricsSchema = evaluationReportSchema.omit({ perImage: true, frocCurve: true }).extend({ evaluatedAt: z.string().optional() });
export type CardMetrics = z.infer<typeof cardMetricsSchema>;

/**
 * A model card (card.json): what `studio train` records and `studio evaluate` adds to. Read with this schema
 * wherever a model loads, so a card that does not parse is a clear MODEL_LOAD_FAILED naming the field, not
 * a crash later; fields a newer studio adds are kept as they are.
 */
/**
 * What a model is for: the images it was trained on, in words and as checks the engine makes on every image
 * before trusting the model's findings on it (main/detector/fit.ts).
 */
export const intendedUseSchema = z.object({
  /** The kind of image, in the words a warning uses: "colonoscopy frames (colour endoscopy)". */
  images: z.string().min(1),
  /** Colour images, or greyscale ones (an RGB file whose channels are equal is greyscale). */
  colour: z.enum(['colour', 'grey']),
  /** DICOM Modality values it accepts (ES endoscopy, US ultrasound, …); a DICOM image of another modality is not its kind. */
  modalities: z.array(z.string().regex(/^[A-Z0-9_ ]{1,16}$/)).min(1),
});
export type IntendedUse = z.infer<typeof intendedUseSchema>;

/**
 * How a model's appearance score (main/detector/appearance.ts) was fitted and calibrated: statistics of its
 * pooled deep features over its training images (in `file`, beside model.json), and the threshold above
 * which an image is not one like them, set on held-out images of its own kind.
 */
export const appearanceCalibrationSchema = z.looseObject({
  file: z.string(),
  /** The layers whose features are pooled, and how many features in all. */
  layers: z.array(z.string()).min(1),
  features: count,
  /** Training images the statistics were fitted on. */
  fitImages: count,
  /** Held-out images of the model's own kind the thresholds were set on (its validation split). */
  calibrationImages: count,
  quantile: z.number().gt(0).lte(1),
  margin: z.number().min(1),
  /**
   * Per flip set a detection may run with (its features average that many views, so their spread differs):
   * the threshold above which an image is not like the training images, the Ledoit–Wolf shrinkage the fit
   * needed, and the held-out scores' median and the quantile the threshold was taken from.
   */
  byFlips: z.partialRecord(
    z.enum(FLIP_SETS),
    z.object({ threshold: z.number().positive(), shrinkage: z.number().min(0).max(1), heldOut: z.object({ median: z.number(), atQuantile: z.number() }) }),
  ),
  fittedAt: z.string().optional(),
});
export type AppearanceCalibration = z.infer<typeof appearanceCalibrationSchema>;

const planCountsSchema = z.object({ images: count, lesionImages: count, lesions: count, negatives: count });

/**
 * An adaptation's record in the adapted model's card: which reviewed images it learned from (the store, its
 * content hash when adapted, the reviewers), how they were split, and both models scored on the site's
 * held-out part (and on the base's own held-out lesion-free images, so forgetting "nothing here" shows).
 */
export const siteAdaptationSchema = z.looseObject({
  store: z.string(),
  /** sha256 of the store's reviewed labels when the run read them. */
  storeHash: z.string(),
  base: z.string(),
  reviewers: z.array(z.string()),
  /** What the split kept together: 'series', 'study', 'sequence' (a folder or manifest group), or 'image'. */
  groupedBy: z.array(z.string()),
  groups: count,
  counts: z.object({ train: planCountsSchema, val: planCountsSchema, test: planCountsSchema }),
  /** Lesion-free images of the base's training share mixed into the site's training images. */
  baseNegatives: count,
  epochsRun: count,
  bestEpoch: count,
  evaluation: z.object({ base: cardMetricsSchema, adapted: cardMetricsSchema }),
  /** Both models on the base's held-out lesion-free images: findings per image. */
  forgetting: z.object({ images: count, base: z.number().nullable(), adapted: z.number().nullable() }).optional(),
  /** True when the adapted model beats the base on the site's held-out split (see `verdict` for why). */
  better: z.boolean(),
  verdict: z.string(),
});
export type SiteAdaptation = z.infer<typeof siteAdaptationSchema>;

export const modelCardSchema = z.looseObject({
  name: z.string().min(1),
  variant: z.enum(VARIANTS),
  inputSize: z.number().int().min(16).max(4096),
  widths: z.array(z.number().int().positive()).optional(),
  studioVersion: z.string().optional(),
  createdAt: z.string().optional(),
  backend: z.string().optional(),
  /** The convolution kernels training ran on the backend (native, or the backend's own). */
  kernels: z.string().optional(),
  /** Threshold of the lesion map for Dice, calibrated on the validation split. */
  threshold: z.number().gt(0).lt(1).optional(),
  /** Threshold whose connected components are findings, calibrated on the validation split. */
  candidateThreshold: z.number().gt(0).lt(1).optional(),
  /** Test-time mirror averaging the thresholds were calibrated with. */
  flips: z.enum(FLIP_SETS).optional(),
  calibration: z.looseObject({ split: z.enum(['train', 'val', 'test']), flips: z.enum(FLIP_SETS).optional() }).optional(),
  data: z
    .looseObject({
      path: z.string().optional(),
      format: z.enum(['masks', 'coco', 'review']).optional(),
      images: count.optional(),
      /** Declared lesion-free images among them, and the folders they came from. */
      negatives: count.optional(),
      negativeFolders: z.array(z.string()).optional(),
    })
    .optional(),
  split: z.looseObject({ file: z.string().optional(), seed: z.number().int().optional(), train: count, val: count, test: count }).optional(),
  hyperparameters: z
    .looseObject({
      epochs: z.number().int().positive().optional(),
      batchSize: z.number().int().positive().optional(),
      learningRate: z.number().positive().optional(),
      /** The spatial gate trained against the lesion mask, and the weight of that loss. */
      attentionSupervision: z.object({ layer: z.string(), weight: z.number().min(0) }).optional(),
      base: z.string().optional(),
    })
    .optional(),
  training: z
    .looseObject({
      epochs: z.number().int().min(0),
      seconds: z.number().min(0),
      history: z.array(z.looseObject({ epoch: z.number().int(), loss: z.union([z.number(), z.nan()]).nullable(), valDice: z.number().optional(), valSensitivity1FP: z.number().optional() })).optional(),
    })
    .optional(),
  metrics: z.looseObject({ train: cardMetricsSchema.optional(), val: cardMetricsSchema.optional(), test: cardMetricsSchema.optional() }).optional(),
  preprocessing: z.string().optional(),
  notes: z.string().optional(),
  /** What the model is for; a model without one is run on anything, with a note saying it cannot check. */
  intendedUse: intendedUseSchema.optional(),
  /** A model adapted to a site (`training.adapt`): the site's data and how base and adapted did there. */
  site: siteAdaptationSchema.optional(),
  /** Its appearance score's statistics and calibration; a model without one is checked on what images declare only. */
  appearance: appearanceCalibrationSchema.optional(),
});
export type ModelCard = z.infer<typeof modelCardSchema>;

export interface ModelInfo {
  name: string;
  variant: Variant;
  inputSize: number;
  /** The model card (card.json), as written by `studio train` and validated when it is read. */
  card: ModelCard;
}

export interface AttentionMap {
  /** Layer name, for example `stage3/cbam_spatial`, `decoder/cbam_spatial8` or `stage4/nonlocal_attention`. */
  name: string;
  kind: 'spatial' | 'nonlocal';
  /** The backbone stage the module sits at (1 = shallowest), or the decoder. */
  stage: number | 'decoder';
  /** Whether training fitted this map to the lesion mask (the model card's attention supervision), rather than leaving it free. */
  supervised: boolean;
  map: Map2D;
}

export interface DetectionResult {
  imageId: string;
  frame: number;
  model: string;
  variant: Variant;
  /** `tensorflow` (CUDA or CPU), `wasm`, `cpu`, or `onnxruntime` with its execution provider. */
  backend: string;
  ms: number;
  /** Images the network ran for this result: 1, or the input and its mirror images averaged (the model card's `flips`). */
  passes: number;
  /** Lesion probability over the image's full extent. */
  heatmap: Map2D;
  attention: AttentionMap[];
  findings: Finding[];
  /**
   * The image-level "lesion present" score: the lesion map's peak over the image, which evaluation's image
   * AUROC ranks too. Calibrated by the card's operating point (`threshold` below): findings exist only where
   * the map reaches it, so an image scoring under it has none, and the score says how near it came.
   */
  lesionScore: number;
  /** The finding threshold the findings were cut at (the card's calibrated operating point unless asked otherwise). */
  threshold: number;
  /**
   * How unlike the model's own training images this image looks to the model (its pooled deep features'
   * distance from theirs, about 1 for a training-like image), and the threshold its card calibrated on
   * held-out images of its kind. Absent for a model without appearance statistics. Above the threshold,
   * `mismatch` says so.
   */
  appearance?: { score: number; threshold: number };
  /**
   * Why this image is not the kind the model is for ("kvasir-cbam is a model for colonoscopy frames
   * (colour endoscopy); this image is a CT"): its findings mean nothing here. Absent when it fits.
   */
  mismatch?: string;
}

/**
 * How one image looks to a model before any run: its appearance score (as `DetectionResult.appearance`,
 * with the same mirror views a run would use) and, when the image is not the model's kind by what it
 * declares or by that score, the same `mismatch` a run would carry. The viewer asks before a run, to warn
 * and to offer a model that knows images like this one.
 */
export interface AppearanceCheck {
  imageId: string;
  frame: number;
  model: string;
  appearance?: { score: number; threshold: number };
  mismatch?: string;
}

export interface GradCamResult {
  imageId: string;
  frame: number;
  model: string;
  layer: string;
  map: Map2D;
}

export interface BackendReport {
  backend: string;
  runtime: 'tfjs' | 'onnxruntime';
  gpu: boolean;
  threads: number;
  versions: Record<string, string>;
  notes: string[];
}

// ---------------------------------------------------------------------------------------------------
// Training and evaluation

export type RunState = 'queued' | 'running' | 'paused' | 'cancelled' | 'failed' | 'finished';

export interface TrainingProgress {
  runId: string;
  name: string;
  state: RunState;
  epoch: number;
  epochs: number;
  step: number;
  steps: number;
  loss: number;
  valDice?: number;
  /** Lesion-level sensitivity at 1 false positive per image on the validation split. */
  valSensitivity1FP?: number;
  imagesPerSec: number;
  etaSec: number;
  message?: string;
  /** Per-epoch history for the live curves. */
  history: { epoch: number; loss: number; valDice?: number; valSensitivity1FP?: number }[];
}

/** How many images of each kind one part of a split holds. */
export interface PlanCounts {
  images: number;
  /** Images with at least one lesion, and their lesions. */
  lesionImages: number;
  lesions: number;
  /** Lesion-free images (declared negatives, empty masks, images a reader confirmed without lesion). */
  negatives: number;
}

/**
 * What a training run would use, before it starts: counts for the whole set and for each part of its
 * split, what a review store holds back (images still waiting for a reader), and why the set cannot train
 * (`problems`: empty when it can). `training.start` and `training.adapt` refuse a set with problems.
 */
export interface TrainingPlan extends PlanCounts {
  /** Groups (sequences, series, near-duplicate frames) the split keeps whole. */
  groups: number;
  split: { train: PlanCounts; val: PlanCounts; test: PlanCounts };
  /** Review stores only: images a reader has not finished, which the run leaves out. */
  waiting?: { unreviewed: number; halfReviewed: number };
  problems: string[];
}

export type { EvaluationReport, FrocPoint, ImageScore };

/** A sample of a dataset, for showing it with its ground truth: the image file and its lesion mask. */
export interface DatasetSample {
  id: string;
  /** Absolute path of the image file, for `imaging.open`. */
  path: string;
  /** The lesion mask at the image's own size as COCO uncompressed RLE (preload/mask-rle.ts), boxes filled where a dataset has only boxes. */
  truth: { counts: number[]; size: [number, number] };
}

/** A comparison under way: which model is being scored, how far it is, and the time left for all of them. */
export interface EvaluationProgress {
  state: 'running' | 'finished' | 'cancelled' | 'failed';
  /** The picked models, in the order they are scored. */
  models: string[];
  /** Index into `models` of the one being scored now. */
  modelIndex: number;
  /** Images of the current model scored so far, out of `total`. */
  done: number;
  total: number;
  /** Images scored per second since the first one (model loading and decoding the split excluded). */
  imagesPerSec: number;
  /** Seconds left for every model still to come, at that rate; NaN until two images are scored. */
  etaSec: number;
  message?: string;
}

// ---------------------------------------------------------------------------------------------------
// Review

export type Decision = 'pending' | 'accepted' | 'rejected' | 'edited' | 'added';

export interface ReviewFinding {
  id: number;
  imageId: number;
  source: 'model' | 'reviewer';
  model?: string;
  box: Box;
  score?: number;
  decision: Decision;
  reviewer?: string;
  note?: string;
  /**
   * The lesion's shape in image pixels (COCO uncompressed RLE), as it trains and exports: a reader's brush
   * outline, or the model's own lesion-map component (main/review/store.ts `lesionShape`).
   */
  mask?: { counts: number[]; size: [number, number] };
  /** Whose outline `mask` is: a reader's brush ('reader'), or the model's lesion map ('model'). */
  maskBy?: 'model' | 'reader';
  /**
   * Set on a model finding whose run was made on an image not of the model's kind (`studio analyze --force`):
   * why ("kvasir-cbam is a model for colonoscopy frames (colour endoscopy); this image is a CT"). Its findings
   * there mean nothing; the review shows this as a warning and every export carries it.
   */
  mismatch?: string;
}

export interface WorklistItem {
  imageId: number;
  path: string;
  name: string;
  pending: number;
  accepted: number;
  rejected: number;
  edited: number;
  added: number;
  maxScore: number;
  flagged: boolean;
  reviewers: string[];
  disagreement: boolean;
  /** Why a model run on this image did not fit it (see ReviewFinding.mismatch); the first such run's text. */
  mismatch?: string;
  /**
   * A reader confirmed the image has no lesion (`review.noLesion`) and no lesion is confirmed on it since: in
   * the worklist's view (that reviewer's own decisions, or everyone's latest). An image with no finding is
   * reviewed only so (preload/review-status.ts `isReviewed`), never by default.
   */
  noLesion: boolean;
  /**
   * How informative a review of this image would be, 0–1 (main/review/informative.ts): how close the model's
   * lesion-map peak and findings came to its operating threshold (1: at it). Absent where no run recorded
   * those signals (runs from before schema 4). `order: 'informative'` sorts the images to review by it.
   */
  informativeness?: number;
}

export interface BatchProgress {
  jobId: string;
  state: RunState;
  done: number;
  total: number;
  failed: number;
  imagesPerSec: number;
  etaSec: number;
  current?: string;
  message?: string;
}

// ---------------------------------------------------------------------------------------------------
// Request schemas. Limits here are the first line of defence against a bad or hostile payload.

const id = z.string().min(1).max(200);
const filePath = z.string().min(1).max(4096);
const modelName = z.string().regex(/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}$/, 'model names use letters, digits, . _ - and do not start with a dot');
const reviewer = z.string().min(1).max(100);
const frame = z.number().int().min(0).max(100_000);
/** A brush mask in image pixels, COCO uncompressed RLE (preload/mask-rle.ts); the store checks it against the image. */
const rleMask = z.object({ counts: z.array(z.number().int().nonnegative()).max(10_000_000), size: z.tuple([z.number().int().positive(), z.number().int().positive()]) });
const box = z.tuple([z.number(), z.number(), z.number(), z.number()]).refine(([x0, y0, x1, y1]) => x1 > x0 && y1 > y0, 'a box needs x1 > x0 and y1 > y0');
const bytes = z.instanceof(Uint8Array);
const empty = z.object({}).strict();

export const requests = {
  'app.info': empty,
  'app.doctor': empty,
  /** Native open dialog (Electron only; the browser host answers UNSUPPORTED and the renderer uses a file input). */
  'dialog.open': z.object({ folders: z.boolean().default(false) }).strict(),

  'imaging.open': z.object({ paths: z.array(filePath).min(1).max(10_000) }).strict(),
  'imaging.upload': z
    .object({ files: z.array(z.object({ name: z.string().min(1).max(1024), bytes })).min(1).max(1_000) })
    .strict(),
  'imaging.list': empty,
  'imaging.frame': z.object({ id, frame }).strict(),
  'imaging.close': z.object({ ids: z.array(id).max(10_000) }).strict(),

  'models.list': empty,
  'detector.run': z
    .object({ imageId: id, frame: frame.default(0), model: modelName, threshold: z.number().min(0).max(1).optional(), flips: z.enum(FLIP_SETS).optional() })
    .strict(),
  'detector.gradcam': z.object({ imageId: id, frame: frame.default(0), model: modelName, layer: z.string().max(200).optional() }).strict(),
  'detector.appearance': z.object({ imageId: id, frame: frame.default(0), model: modelName, flips: z.enum(FLIP_SETS).optional() }).strict(),

  'training.start': z
    .object({
      name: modelName,
      data: filePath,
      format: z.enum(['masks', 'coco', 'review']).default(TRAINING_DEFAULTS.format),
      variant: z.enum(VARIANTS),
      baseModel: modelName.optional(),
      epochs: z.number().int().min(1).max(1000).default(TRAINING_DEFAULTS.epochs),
      batchSize: z.number().int().min(1).max(256).default(TRAINING_DEFAULTS.batchSize),
      inputSize: z.number().int().min(INPUT_SIZE.min).max(INPUT_SIZE.max).multipleOf(INPUT_SIZE.multipleOf).default(TRAINING_DEFAULTS.inputSize),
      learningRate: z.number().positive().max(1).default(TRAINING_DEFAULTS.learningRate),
      seed: z.number().int().min(0).max(2 ** 31 - 1).default(TRAINING_DEFAULTS.seed),
      limit: z.number().int().min(1).optional(),
      /** Folders of lesion-free images to train on beside the data (each `DIR/images/*` or `DIR/*`). */
      negatives: z.array(filePath).max(8).optional(),
      /** Supervision of the CBAM spatial gate nearest the output by the lesion mask (0 = unsupervised); ignored without gates. */
      attentionWeight: z.number().min(0).max(10).default(TRAINING_DEFAULTS.attentionWeight),
      augmentation: z.enum(AUGMENTATION_PRESETS).default(TRAINING_DEFAULTS.augmentation),
    })
    .strict(),
  'training.control': z.object({ runId: id, action: z.enum(['pause', 'resume', 'cancel']) }).strict(),
  'training.list': empty,
  /** What `training.start` with these settings would train on, without starting it. */
  'training.plan': z
    .object({
      data: filePath,
      format: z.enum(['masks', 'coco', 'review']).default(TRAINING_DEFAULTS.format),
      negatives: z.array(filePath).max(8).optional(),
      limit: z.number().int().min(1).optional(),
      seed: z.number().int().min(0).max(2 ** 31 - 1).default(TRAINING_DEFAULTS.seed),
      /** Plan adapting this model to the review store `data` instead (`training.adapt`'s split by sequence, its seed). */
      adaptFrom: modelName.optional(),
    })
    .strict(),
  /**
   * Adapt a model to this site: fine-tune `baseModel` on the review store's reviewed images (split by
   * study, series or video sequence), then score base and adapted on the site's held-out part. The result
   * is a new model `name` whose card records the site data and both evaluations (`card.site`).
   */
  'training.adapt': z
    .object({
      name: modelName,
      baseModel: modelName,
      /** The review store (default: the studio's own). */
      store: filePath.optional(),
      epochs: z.number().int().min(1).max(200).default(ADAPT_DEFAULTS.epochs),
      learningRate: z.number().positive().max(1).default(ADAPT_DEFAULTS.learningRate),
      patience: z.number().int().min(1).max(50).default(ADAPT_DEFAULTS.patience),
      seed: z.number().int().min(0).max(2 ** 31 - 1).default(ADAPT_DEFAULTS.seed),
      /** Lesion-free folders kept in the mix (default: the base's own training negatives; [] for none). */
      negatives: z.array(filePath).max(8).optional(),
      /** Input size (default: the base's). */
      inputSize: z.number().int().min(INPUT_SIZE.min).max(INPUT_SIZE.max).multipleOf(INPUT_SIZE.multipleOf).optional(),
    })
    .strict(),

  /**
   * `scope`: `own` scores each model on its own split of the data (models trained on other splits meet
   * other images); `common` scores every model on the images that lie in all of their splits.
   */
  'evaluation.compare': z
    .object({
      models: z.array(modelName).min(1).max(8),
      data: filePath,
      format: z.enum(['masks', 'coco', 'review']).default('masks'),
      /** Folders of lesion-free images scored beside the data: false positives on them, image-level figures. */
      negatives: z.array(filePath).max(8).optional(),
      split: z.enum(['train', 'val', 'test']).default('test'),
      scope: z.enum(['own', 'common']).default('own'),
      limit: z.number().int().min(1).optional(),
      /** Also score the images as other devices would render them (EvaluationReport.renderings): nine passes instead of one. */
      renderings: z.boolean().default(false),
    })
    .strict(),
  'evaluation.cancel': empty,
  /** One sample of a dataset with its ground-truth mask, by the id an evaluation report gives it. */
  'evaluation.sample': z.object({ data: filePath, id: z.string().min(1).max(1024), format: z.enum(['masks', 'coco', 'review']).default('masks') }).strict(),

  'review.worklist': z
    .object({
      status: z.enum(['all', 'pending', 'done', 'flagged']).default('all'),
      model: modelName.optional(),
      reviewer: reviewer.optional(),
      minScore: z.number().min(0).max(1).optional(),
      disagreement: z.boolean().optional(),
      /** 'file': the store's order; 'informative': images to review, most informative first, then the reviewed (main/review/informative.ts). */
      order: z.enum(['file', 'informative']).default('file'),
    })
    .strict(),
  'review.findings': z.object({ imageId: z.number().int().positive() }).strict(),
  'review.decide': z
    .object({
      findingId: z.number().int().positive(),
      reviewer,
      decision: z.enum(['accepted', 'rejected', 'edited']),
      box: box.optional(),
      /** With 'accepted' or 'edited': the reader's own outline of the lesion, as `review.add`'s mask (main/review/store.ts `decide`). */
      mask: rleMask.optional(),
      note: z.string().max(10_000).optional(),
    })
    .strict(),
  'review.add': z
    .object({
      imageId: z.number().int().positive(),
      reviewer,
      box,
      mask: rleMask.optional(),
      note: z.string().max(10_000).optional(),
    })
    .strict(),
  'review.flag': z.object({ imageId: z.number().int().positive(), reviewer, flagged: z.boolean(), note: z.string().max(10_000).optional() }).strict(),
  'review.undo': z.object({ reviewer }).strict(),
  /** A reader's "no lesion here" on a whole image; rejects that reader's findings on it still undecided. */
  'review.noLesion': z.object({ imageId: z.number().int().positive(), reviewer, note: z.string().max(10_000).optional() }).strict(),

  'batch.start': z
    .object({
      inputs: z.array(filePath).min(1).max(10_000),
      model: modelName,
      out: filePath,
      /** Lesion probability for a finding; default the card's validation-calibrated candidateThreshold, as in the viewer. */
      threshold: z.number().min(0).max(1).optional(),
      flips: z.enum(FLIP_SETS).optional(),
      store: filePath.optional(),
      /** Analyse images that are not the kind the model is for, their findings marked so; default: refuse them. */
      force: z.boolean().default(false),
    })
    .strict(),
  'batch.cancel': z.object({ jobId: id }).strict(),
} as const;

export interface Responses {
  /** `reviewStore`: the studio's own review store, which Review and Adapt use when given no other. */
  'app.info': { version: string; shell: 'electron' | 'browser'; dataDir?: string; reviewStore: string; backend: BackendReport | null };
  'app.doctor': BackendReport;
  'dialog.open': { paths: string[] };

  'imaging.open': OpenResult;
  'imaging.upload': OpenResult;
  'imaging.list': ImageSummary[];
  'imaging.frame': FramePixels;
  'imaging.close': { closed: number };

  'models.list': ModelInfo[];
  'detector.run': DetectionResult;
  'detector.gradcam': GradCamResult;
  'detector.appearance': AppearanceCheck;

  'training.start': { runId: string };
  'training.control': TrainingProgress;
  'training.list': TrainingProgress[];
  'training.plan': TrainingPlan;
  'training.adapt': { runId: string };

  'evaluation.compare': { reports: EvaluationReport[] };
  'evaluation.cancel': { cancelled: boolean };
  'evaluation.sample': DatasetSample;

  'review.worklist': { items: WorklistItem[]; total: number; reviewed: number };
  /** `noLesion`: the readers whose current decision on the image is "no lesion" (`review.noLesion`). */
  'review.findings': { imageId: number; path: string; findings: ReviewFinding[]; flagged: boolean; note?: string; noLesion: string[] };
  'review.decide': ReviewFinding;
  'review.add': ReviewFinding;
  'review.flag': { imageId: number; flagged: boolean };
  'review.undo': { undone: boolean; finding?: ReviewFinding };
  /** `rejected`: the findings this decision rejected (those the reader had not decided). */
  'review.noLesion': { imageId: number; noLesion: boolean; rejected: number[] };

  'batch.start': { jobId: string };
  'batch.cancel': BatchProgress;
}

/** Events pushed from main to every window (Electron) or socket (browser host). */
export interface Events {
  'training.progress': TrainingProgress;
  'batch.progress': BatchProgress;
  'evaluation.progress': EvaluationProgress;
  'review.changed': { imageId: number };
}

export type Channel = keyof typeof requests;
export type EventName = keyof Events;
/** What a caller passes: defaults in the schema may be left out. */
export type Request<C extends Channel> = z.input<(typeof requests)[C]>;
/** What a handler receives: validated, defaults filled in. */
export type ValidRequest<C extends Channel> = z.output<(typeof requests)[C]>;
export type Response<C extends Channel> = Responses[C];

export const CHANNELS = Object.keys(requests) as Channel[];
export const EVENTS: EventName[] = ['training.progress', 'batch.progress', 'evaluation.progress', 'review.changed'];

export function isChannel(name: unknown): name is Channel {
  return typeof name === 'string' && Object.prototype.hasOwnProperty.call(requests, name);
}

/** The typed API the renderer uses, whichever transport carries it. */
export type StudioApi = {
  [C in Channel]: (request: Request<C>) => Promise<Response<C>>;
} & {
  on<E extends EventName>(event: E, listener: (payload: Events[E]) => void): () => void;
};

/** Handlers main implements: one per channel, each receiving an already-validated request. */
export type Handlers = {
  [C in Channel]: (request: ValidRequest<C>) => Promise<Response<C>>;
};

/** An error that crosses the contract as itself, with its code. */
export class StudioError extends Error implements StudioErrorShape {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly subject?: string,
  ) {
    super(message);
    this.name = 'StudioError';
  }
  toJSON(): StudioErrorShape {
    return { code: this.code, message: this.message, ...(this.subject ? { subject: this.subject } : {}) };
  }
}

/** Validate a request for `channel`; returns the parsed value or a typed INVALID_PAYLOAD error. */
export function validateRequest<C extends Channel>(channel: C, payload: unknown): { ok: true; value: ValidRequest<C> } | { ok: false; error: StudioErrorShape } {
  const parsed = requests[channel].safeParse(payload ?? {});
  if (parsed.success) return { ok: true, value: parsed.data as ValidRequest<C> };
  const first = parsed.error.issues[0];
  const where = first?.path.length ? first.path.join('.') : 'payload';
  return { ok: false, error: { code: 'INVALID_PAYLOAD', message: `${channel}: ${where}: ${first?.message ?? 'invalid'}`, subject: where } };
}
