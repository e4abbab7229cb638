/**
 * The review store: one SQLite file (better-sqlite3, WAL) holding images, model runs, proposed findings,
 * reviewers' annotations and decisions, image flags, and an append-only audit trail.
 *
 * Durability: journal_mode=WAL with synchronous=FULL. In WAL mode a commit is written to the WAL before the
 * call returns, so even synchronous=NORMAL survives kill -9 of this process; FULL adds an fsync of the WAL
 * on every commit, so a committed decision also survives power loss or an OS crash. Decisions arrive at
 * human pace and batch commits once per image, so the fsync (about a millisecond on SSD) costs nothing
 * that matters, and a clinician's decision is not something to lose.
 *
 * Concurrency: several processes may open the same file (the batch writer, the studio reading). Every
 * write is one BEGIN IMMEDIATE transaction, so a writer takes the write lock up front and waits
 * (busy_timeout) instead of failing on a stale read snapshot; readers never block in WAL mode.
 */
import Database from 'better-sqlite3';
import { basename, dirname, join, resolve } from 'node:path';
import { type Box, type Decision, type ReviewFinding, StudioError, type WorklistItem } from '../../preload/contract.ts';
import { type Settings, loadSettings } from '../settings.ts';
import { isReviewed } from '../../preload/review-status.ts';
import { informativeOrder, informativeness } from './informative.ts';
import { MIGRATIONS, OWN_TRIGGERS, SCHEMA_VERSION } from './schema.ts';
import { type Rle, checkRle, rleArea, rleBox } from './rle.ts';
import { rleAreaIn, rleClip } from '../../preload/mask-box.ts';
import { ensureDir } from '../fs/dirs.ts';

export type { Rle } from './rle.ts';

export interface ImageUids {
  study?: string;
  series?: string;
  sop?: string;
  sopClass?: string;
}
export interface ImageRecord {
  path: string;
  /** sha256 of the file's bytes, hex. */
  contentHash: string;
  width: number;
  height: number;
  uids?: ImageUids;
}
export interface ProposedFinding {
  box: Box;
  score: number;
  area: number;
  /**
   * The lesion's own shape at the image's size (COCO uncompressed RLE): the lesion-map component the model
   * found it as (main/review/lesion-mask.ts). An accepted finding trains as this shape, not its filled box.
   */
  mask?: Rle;
}
export interface RunInfo {
  model: string;
  backend: string;
  params?: Record<string, unknown>;
}
export interface RecordOptions {
  /**
   * Why the run's model is not for this image (main/detector/fit.ts `mismatch`), when it ran anyway
   * (`studio analyze --force`). Stored with the run's record of the image; each of the run's findings on it
   * carries it into the review and every export.
   */
  mismatch?: string;
  /**
   * What the run saw on the image besides its findings (main/review/informative.ts orders the worklist by
   * them): the lesion map's maximum over the image, and the threshold its findings were cut at; both in [0, 1].
   */
  lesionPeak?: number;
  threshold?: number;
}
export interface RecordResult {
  imageId: number;
  findingIds: number[];
  /** True when this image was already recorded for the run's model: nothing was written. */
  skipped: boolean;
}
export interface WorklistFilter {
  status?: 'all' | 'pending' | 'done' | 'flagged';
  model?: string;
  reviewer?: string;
  minScore?: number;
  disagreement?: boolean;
  /** 'file' (default): image id order; 'informative': main/review/informative.ts `informativeOrder`. */
  order?: 'file' | 'informative';
}
export interface FindingsView {
  imageId: number;
  path: string;
  findings: ReviewFinding[];
  flagged: boolean;
  note?: string;
  /** Readers whose current decision on the image is "no lesion" (`confirmNoLesion`), in the order they decided. */
  noLesion: string[];
}
export interface AuditEntry {
  id: number;
  at: string;
  who: string;
  action: 'record' | 'decide' | 'add' | 'flag' | 'undo';
  entity: 'image' | 'finding' | 'decision';
  entityId: number;
  imageId: number | null;
  before: unknown;
  after: unknown;
  undoes: number | null;
}
export interface UndoResult {
  undone: boolean;
  finding?: ReviewFinding;
  imageId?: number;
}

/** A reader's current decision about a whole image: so far only "no lesion here" (`confirmNoLesion`). */
export interface ImageDecision {
  reviewer: string;
  decision: 'no-lesion';
  note?: string;
  decided: string;
}

/**
 * Every image of the store (with or without findings) and its readers' image decisions, oldest first: what
 * `reviewRows` (one row per finding) cannot show, an image with no finding that a reader confirmed.
 */
export interface ImageReview {
  image: ReviewRow['image'];
  decisions: ImageDecision[];
}

/** One live finding with every reviewer's decision, for exports and the training dataset. */
export interface ReviewRow {
  /** `mismatch`: the first run on this image (by run id) whose model was not for it, with why. */
  image: { id: number; path: string; contentHash: string; width: number; height: number; uids: ImageUids; flagged: boolean; flagNote?: string; mismatch?: string };
  /** `mismatch`: on a model finding whose run was not for this image, why (see RecordOptions). */
  finding: { id: number; source: 'model' | 'reviewer'; model?: string; runId?: number; box: Box; score?: number; area?: number; mismatch?: string };
  /** Every reviewer's current decision, oldest first. */
  decisions: { reviewer: string; decision: Exclude<Decision, 'pending'>; box: Box; mask?: Rle; note?: string; decided: string }[];
  /** The latest decision (any reviewer), or pending. */
  effective: { decision: Decision; reviewer?: string; box: Box; mask?: Rle; note?: string; decided?: string };
}

export interface OpenOptions {
  /** Refuse to create a missing file (exports, read-only tools). */
  mustExist?: boolean;
  readonly?: boolean;
  /** Milliseconds a writer waits for another's lock before failing with BUSY. */
  busyTimeoutMs?: number;
}

export function defaultStorePath(settings: Settings = loadSettings()): string {
  return join(settings.homeDir, 'review.sqlite');
}

const now = () => new Date().toISOString();
const json = (v: unknown) => (v === undefined ? null : JSON.stringify(v));
const parse = <T>(s: string | null | undefined): T | undefined => (s == null ? undefined : (JSON.parse(s) as T));

/**
 * A stored mask, if it is one: counts that fill exactly its own size, each side at most 65535. Masks are
 * checked on the way in (checkRle), but a store is a file anyone can edit: a 1×1 mask holding a run of 10¹¹
 * had the training plan walk it for minutes with the host's event loop held. One that fails is dropped (its
 * box still marks the lesion), never walked.
 */
function parseMask(s: string | null | undefined): Rle | undefined {
  let m: Rle | undefined;
  try {
    m = parse<Rle>(s);
  } catch {
    return undefined;
  }
  if (!m || !Array.isArray(m.size) || m.size.length !== 2) return undefined;
  const [h, w] = m.size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h < 1 || w < 1 || h > 65535 || w > 65535) return undefined;
  try {
    return checkRle(m, w, h);
  } catch {
    return undefined;
  }
}

function checkBox(box: unknown, what: string): Box {
  if (!Array.isArray(box) || box.length !== 4 || !box.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new StudioError('INVALID_PAYLOAD', `${what}: a box is four finite numbers [x0, y0, x1, y1]`, what);
  }
  const [x0, y0, x1, y1] = box as Box;
  if (!(x1 > x0 && y1 > y0)) throw new StudioError('INVALID_PAYLOAD', `${what}: a box needs x1 > x0 and y1 > y0`, what);
  return [x0, y0, x1, y1];
}

/** A reviewer's box must lie on the image it annotates: one outside it is a client bug, not a lesion. */
function checkInside(box: Box, image: { width: number | null; height: number | null }, what: string): Box {
  const { width, height } = image;
  if (!width || !height) return box;
  if (box[0] < 0 || box[1] < 0 || box[2] > width || box[3] > height) {
    throw new StudioError('INVALID_PAYLOAD', `${what}: [${box.map((v) => Math.round(v * 10) / 10).join(', ')}] lies outside the ${width}×${height} image`, what);
  }
  return box;
}

/**
 * THE rule for the lesion shape a finding trains and exports as under one decision (reviewRows, which the
 * training set and every export read, and the findings the panel shows, so a reader sees what will train):
 *  - a reader's own outline (a brush mask sent with add, or with an accept or edit) is the shape;
 *  - a decision with a reader's box and no outline (an edited box) takes the finding's own shape (the model's
 *    lesion-map component, or the adder's brush mask) inside that box, so a corrected box still trains
 *    lesion-shaped; where that shape does not reach into the box, none (the box trains filled);
 *  - a decision without geometry (accepted as proposed, rejected, pending) takes the finding's own shape.
 * `by`: whose outline it is ('reader' for a reviewer's brush, 'model' for the lesion-map component).
 */
function lesionShape(source: 'model' | 'reviewer', own: Rle | undefined, annotation: { box: Box; mask?: Rle } | null): { mask: Rle; by: 'model' | 'reader' } | undefined {
  const ownBy = source === 'reviewer' ? 'reader' : 'model';
  if (!annotation) return own && { mask: own, by: ownBy };
  if (annotation.mask) return { mask: annotation.mask, by: 'reader' };
  if (!own) return undefined;
  const clipped = rleClip(own, annotation.box);
  return rleArea(clipped) > 0 ? { mask: clipped, by: ownBy } : undefined;
}

/** A reader's outline must mark the lesion its box marks: one with no pixel in that box is another lesion (add it) or a slip. */
function checkOverlap(mask: Rle, box: Box, what: string): void {
  if (rleAreaIn(mask, box) === 0) {
    throw new StudioError('INVALID_PAYLOAD', `mask: the outline does not overlap ${what} [${box.map((v) => Math.round(v * 10) / 10).join(', ')}]: outline the lesion this finding marks, or add it as a new finding`, 'mask');
  }
}

/** The longest mismatch text stored: a sentence naming a model and an image kind, never a document. */
const MAX_MISMATCH = 2000;

/**
 * The oldest schema a read-only open can read: version 1 lacks only run_images.mismatch, which reads as NULL,
 * versions 1 and 2 the image_decisions table, read as empty, and versions 1 to 3 run_images' lesion_peak and
 * threshold, read as NULL (their images unscored in the informative order).
 */
const READABLE_FROM = 1;

/** A run's signal in [0, 1] (lesion peak, threshold): absent, or a finite number in range. */
function checkUnit(value: unknown, what: string, path: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) throw new StudioError('INVALID_PAYLOAD', `${path}: ${what} must be a number from 0 to 1`, path);
  return value;
}

/** A run's mismatch text: absent, or a non-empty sentence (blank counts as absent: the image fits). */
function checkMismatch(mismatch: unknown, path: string): string | undefined {
  if (mismatch === undefined || mismatch === null) return undefined;
  if (typeof mismatch !== 'string') throw new StudioError('INVALID_PAYLOAD', `${path}: mismatch must be a string`, path);
  const text = mismatch.trim();
  if (text.length > MAX_MISMATCH) throw new StudioError('INVALID_PAYLOAD', `${path}: mismatch is ${text.length} characters, at most ${MAX_MISMATCH}`, path);
  return text || undefined;
}

function checkReviewer(reviewer: unknown): string {
  if (typeof reviewer !== 'string' || reviewer.trim() === '' || reviewer.length > 100) {
    throw new StudioError('INVALID_PAYLOAD', 'a reviewer name is 1 to 100 characters', 'reviewer');
  }
  if (reviewer.startsWith('model:')) throw new StudioError('INVALID_PAYLOAD', "reviewer names cannot start with 'model:'", 'reviewer');
  return reviewer;
}

interface FindingJoinRow {
  id: number;
  image_id: number;
  source: 'model' | 'reviewer';
  run_id: number | null;
  model: string | null;
  x0: number; y0: number; x1: number; y1: number;
  score: number | null;
  area: number | null;
  mask: string | null;
  created_by: string | null;
  withdrawn: number;
  decision: Exclude<Decision, 'pending'> | null;
  reviewer: string | null;
  note: string | null;
  decided: string | null;
  seq: number | null;
  ax0: number | null; ay0: number | null; ax1: number | null; ay1: number | null;
  amask: string | null;
  mismatch: string | null;
}


/** The state of one reviewer's decision on one finding, as the audit trail records it. */
interface DecisionState {
  decision: Exclude<Decision, 'pending'>;
  annotationId: number | null;
  box?: Box;
  mask?: Rle;
  note: string | null;
}

interface ImageFlagState {
  flagged: boolean;
  note: string | null;
  by: string | null;
}

/**
 * One reader's "no lesion" on an image as the audit trail records it: the decision (null: none), and in an
 * entry's `after`, the findings it rejected (those the reader had not decided), which its undo un-decides.
 */
interface ImageDecisionState {
  decision: 'no-lesion';
  note: string | null;
  rejected?: number[];
}

export class ReviewStore {
  readonly file: string;
  private readonly db: Database.Database;
  /** How queries read run_images.mismatch: the column, or NULL on a version-1 store opened read-only. */
  private readonly mismatchColumn: string = 'ri.mismatch';
  /** False on a store older than version 3 opened read-only: no image decisions, none read. */
  private readonly hasImageDecisions: boolean = true;
  /** False on a store older than version 4 opened read-only: no lesion peaks or thresholds, read as NULL. */
  private readonly hasRunSignals: boolean = true;

  constructor(file: string, options: OpenOptions = {}) {
    this.file = resolve(file);
    try {
      if (!options.mustExist && !options.readonly) ensureDir(dirname(this.file));
      this.db = new Database(this.file, { fileMustExist: Boolean(options.mustExist || options.readonly), readonly: Boolean(options.readonly), timeout: options.busyTimeoutMs ?? 10_000 });
    } catch (err) {
      throw openError(this.file, err);
    }
    try {
      this.db.pragma(`busy_timeout = ${Math.max(0, Math.floor(options.busyTimeoutMs ?? 10_000))}`);
      if (!options.readonly) {
        const mode = String(this.db.pragma('journal_mode = WAL', { simple: true }));
        if (mode.toLowerCase() !== 'wal') throw new Error(`could not switch to WAL (journal_mode is ${mode})`);
      }
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      // A store is a file: one carrying SQL the studio did not write could rewrite what is read or written.
      this.db.pragma('trusted_schema = OFF');
      const foreign = this.db
        .prepare<[], { type: string; name: string }>("SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger')")
        .all()
        .filter((f) => f.type === 'view' || !OWN_TRIGGERS.includes(f.name));
      if (foreign.length) throw new Error(`it holds ${foreign.map((f) => `a ${f.type} '${f.name}'`).join(', ')} the studio never writes (SQL that could rewrite findings and decisions as they are read or written); open a store the studio wrote`);
      if (!options.readonly) this.migrate();
      else {
        // Read-only cannot migrate: an older store that differs only by columns that read as NULL is read as it is.
        const version = this.version();
        if (version < READABLE_FROM || version > SCHEMA_VERSION) throw new Error(`schema version ${version}, this studio reads ${READABLE_FROM} to ${SCHEMA_VERSION}`);
        if (version < 2) this.mismatchColumn = 'NULL';
        if (version < 3) this.hasImageDecisions = false;
        if (version < 4) this.hasRunSignals = false;
      }
    } catch (err) {
      this.db.close();
      throw openError(this.file, err);
    }
  }

  private version(): number {
    return Number(this.db.pragma('user_version', { simple: true }));
  }

  private migrate(): void {
    const current = this.version();
    if (current > SCHEMA_VERSION) {
      throw new StudioError('UNSUPPORTED', `review store ${this.file} has schema version ${current}, newer than this studio's ${SCHEMA_VERSION}: update the studio`, this.file);
    }
    for (let v = current; v < SCHEMA_VERSION; v++) {
      this.db
        .transaction(() => {
          // Another process may have migrated while we waited for the lock.
          if (this.version() !== v) return;
          this.db.exec(MIGRATIONS[v]);
          this.db.pragma(`user_version = ${v + 1}`);
        })
        .immediate();
    }
  }

  /** Runs `fn` in one BEGIN IMMEDIATE transaction; a lock not released within busy_timeout is BUSY. */
  private write<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn).immediate();
    } catch (err) {
      if (err instanceof StudioError) throw err;
      const code = (err as { code?: string }).code ?? '';
      if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
        throw new StudioError('BUSY', `review store ${this.file} is locked by another writer; try again`, this.file);
      }
      throw err;
    }
  }

  private audit(who: string, action: AuditEntry['action'], entity: AuditEntry['entity'], entityId: number, imageId: number | null, before: unknown, after: unknown, undoes: number | null = null): number {
    const r = this.db
      .prepare('INSERT INTO audit (at, who, action, entity, entity_id, image_id, before, after, undoes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)')
      .run(now(), who, action, entity, entityId, imageId, json(before ?? null), json(after ?? null), undoes);
    return Number(r.lastInsertRowid);
  }

  // ---------------------------------------------------------------------------------------------------
  // Batch recording

  beginRun(run: RunInfo): number {
    if (!run || typeof run.model !== 'string' || !run.model || typeof run.backend !== 'string') {
      throw new StudioError('INVALID_PAYLOAD', 'a run needs a model name and a backend', 'model');
    }
    return this.write(() => Number(this.db.prepare('INSERT INTO model_runs (model, backend, params, started) VALUES (?, ?, ?, ?)').run(run.model, run.backend, JSON.stringify(run.params ?? {}), now()).lastInsertRowid));
  }

  finishRun(runId: number): void {
    this.write(() => {
      const r = this.db.prepare('UPDATE model_runs SET finished = ? WHERE id = ?').run(now(), runId);
      if (r.changes === 0) throw new StudioError('NOT_FOUND', `no model run ${runId}`, String(runId));
    });
  }

  runs(): { id: number; model: string; backend: string; params: Record<string, unknown>; started: string; finished: string | null; images: number }[] {
    const rows = this.db
      .prepare<[], { id: number; model: string; backend: string; params: string; started: string; finished: string | null; images: number }>(
        'SELECT r.*, (SELECT count(*) FROM run_images ri WHERE ri.run_id = r.id) AS images FROM model_runs r ORDER BY r.id',
      )
      .all();
    return rows.map((r) => ({ ...r, params: JSON.parse(r.params) as Record<string, unknown> }));
  }

  /** Has `model` already finished this image (by path or sha256 content hash)? For resuming a batch. */
  isImageDone(pathOrHash: string, model: string): boolean {
    const row = this.db
      .prepare('SELECT 1 FROM run_images ri JOIN model_runs r ON r.id = ri.run_id JOIN images i ON i.id = ri.image_id WHERE r.model = ? AND (i.path = ? OR i.content_hash = ?) LIMIT 1')
      .get(model, resolve(pathOrHash), pathOrHash);
    return row !== undefined;
  }

  /**
   * Records one image and the run's findings on it in ONE transaction, with its done-marker: after a crash
   * an image is either fully recorded or absent. Idempotent per (image, model): an image this model already
   * finished is skipped, so a resumed batch never duplicates findings. `options.mismatch` says the model was
   * not for this image (it ran anyway): stored with the run's done-marker, it marks every finding of the run
   * on this image wherever they are read (findings, worklist, reviewRows and so every export).
   */
  recordImageFindings(runId: number, image: ImageRecord, findings: ProposedFinding[], options: RecordOptions = {}): RecordResult {
    if (!image || typeof image.path !== 'string' || !image.path) throw new StudioError('INVALID_PAYLOAD', 'an image needs a path', 'path');
    if (typeof image.contentHash !== 'string' || !/^[0-9a-f]{16,128}$/i.test(image.contentHash)) throw new StudioError('INVALID_PAYLOAD', `${image.path}: contentHash must be a hex digest`, image.path);
    if (!Number.isInteger(image.width) || !Number.isInteger(image.height) || image.width <= 0 || image.height <= 0) {
      throw new StudioError('INVALID_PAYLOAD', `${image.path}: width and height must be positive integers`, image.path);
    }
    if (!Array.isArray(findings)) throw new StudioError('INVALID_PAYLOAD', `${image.path}: findings must be an array`, image.path);
    const mismatch = checkMismatch(options?.mismatch, image.path);
    const lesionPeak = checkUnit(options?.lesionPeak, 'lesionPeak', image.path);
    const threshold = checkUnit(options?.threshold, 'threshold', image.path);
    const clean = findings.map((f, i) => {
      const box = checkBox(f?.box, `findings[${i}].box`);
      if (typeof f.score !== 'number' || !Number.isFinite(f.score)) throw new StudioError('INVALID_PAYLOAD', `findings[${i}].score must be a number`, `findings[${i}]`);
      const area = typeof f.area === 'number' && Number.isFinite(f.area) ? f.area : (box[2] - box[0]) * (box[3] - box[1]);
      const mask = f.mask === undefined ? undefined : checkRle(f.mask, image.width, image.height);
      return { box, score: f.score, area, mask };
    });
    const path = resolve(image.path);
    const u = image.uids ?? {};
    return this.write(() => {
      const run = this.db.prepare<[number], { model: string }>('SELECT model FROM model_runs WHERE id = ?').get(runId);
      if (!run) throw new StudioError('NOT_FOUND', `no model run ${runId}`, String(runId));
      this.db
        .prepare(
          `INSERT INTO images (path, content_hash, study_uid, series_uid, sop_uid, sop_class_uid, width, height, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (path) DO UPDATE SET content_hash = excluded.content_hash, width = excluded.width, height = excluded.height,
             study_uid = coalesce(excluded.study_uid, study_uid), series_uid = coalesce(excluded.series_uid, series_uid),
             sop_uid = coalesce(excluded.sop_uid, sop_uid), sop_class_uid = coalesce(excluded.sop_class_uid, sop_class_uid)`,
        )
        .run(path, image.contentHash.toLowerCase(), u.study ?? null, u.series ?? null, u.sop ?? null, u.sopClass ?? null, image.width, image.height, now());
      const imageId = this.db.prepare<[string], { id: number }>('SELECT id FROM images WHERE path = ?').get(path)!.id;
      const done = this.db
        .prepare<[number, string], { run_id: number }>('SELECT ri.run_id FROM run_images ri JOIN model_runs r ON r.id = ri.run_id WHERE ri.image_id = ? AND r.model = ? LIMIT 1')
        .get(imageId, run.model);
      if (done) {
        const ids = this.db.prepare<[number, number], { id: number }>('SELECT id FROM findings WHERE image_id = ? AND run_id = ? ORDER BY id').all(imageId, done.run_id).map((r) => r.id);
        return { imageId, findingIds: ids, skipped: true };
      }
      const insert = this.db.prepare('INSERT INTO findings (image_id, run_id, source, x0, y0, x1, y1, score, area, mask, created) VALUES (?, ?, \'model\', ?, ?, ?, ?, ?, ?, ?, ?)');
      const at = now();
      const findingIds = clean.map((f) => Number(insert.run(imageId, runId, f.box[0], f.box[1], f.box[2], f.box[3], f.score, f.area, json(f.mask), at).lastInsertRowid));
      this.db
        .prepare('INSERT INTO run_images (run_id, image_id, findings, finished, mismatch, lesion_peak, threshold) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(runId, imageId, findingIds.length, at, mismatch ?? null, lesionPeak ?? null, threshold ?? null);
      this.audit(`model:${run.model}`, 'record', 'image', imageId, imageId, null, { runId, findings: findingIds.length, contentHash: image.contentHash.toLowerCase(), ...(mismatch ? { mismatch } : {}) });
      return { imageId, findingIds, skipped: false };
    });
  }

  // ---------------------------------------------------------------------------------------------------
  // Reading

  private image(imageId: number): { id: number; path: string; flagged: number; flag_note: string | null; flagged_by: string | null; width: number; height: number } {
    const img = this.db.prepare<[number], { id: number; path: string; flagged: number; flag_note: string | null; flagged_by: string | null; width: number; height: number }>('SELECT id, path, flagged, flag_note, flagged_by, width, height FROM images WHERE id = ?').get(imageId);
    if (!img) throw new StudioError('NOT_FOUND', `no image ${imageId} in the review store`, String(imageId));
    return img;
  }

  private get findingSelect(): string {
    return `
    SELECT f.id, f.image_id, f.source, f.run_id, r.model, f.x0, f.y0, f.x1, f.y1, f.score, f.area, f.mask, f.created_by, f.withdrawn,
           d.decision, d.reviewer, d.note, d.decided, d.seq, a.x0 AS ax0, a.y0 AS ay0, a.x1 AS ax1, a.y1 AS ay1, a.mask AS amask,
           ${this.mismatchColumn} AS mismatch
    FROM findings f
    LEFT JOIN model_runs r ON r.id = f.run_id
    LEFT JOIN run_images ri ON ri.run_id = f.run_id AND ri.image_id = f.image_id
    LEFT JOIN decisions d ON d.id = (SELECT d2.id FROM decisions d2 WHERE d2.finding_id = f.id AND (@reviewer IS NULL OR d2.reviewer = @reviewer) ORDER BY d2.seq DESC LIMIT 1)
    LEFT JOIN annotations a ON a.id = d.annotation_id`;
  }

  private toFinding(row: FindingJoinRow): ReviewFinding {
    const out: ReviewFinding = {
      id: row.id,
      imageId: row.image_id,
      source: row.source,
      box: row.ax0 != null ? [row.ax0, row.ay0!, row.ax1!, row.ay1!] : [row.x0, row.y0, row.x1, row.y1],
      decision: row.decision ?? 'pending',
    };
    if (row.model) out.model = row.model;
    if (row.score != null) out.score = row.score;
    if (row.reviewer) out.reviewer = row.reviewer;
    else if (row.source === 'reviewer' && row.created_by) out.reviewer = row.created_by;
    if (row.note) out.note = row.note;
    const shape = lesionShape(row.source, parseMask(row.mask), row.ax0 != null ? { box: out.box, mask: parseMask(row.amask) } : null);
    if (shape) {
      out.mask = shape.mask;
      out.maskBy = shape.by;
    }
    if (row.mismatch) out.mismatch = row.mismatch;
    return out;
  }

  /** One finding as `reviewer` sees it (their own decision), or with the latest decision of anyone. */
  finding(findingId: number, reviewer?: string): ReviewFinding {
    const row = this.db.prepare<[{ reviewer: string | null; id: number }], FindingJoinRow>(`${this.findingSelect} WHERE f.id = @id`).get({ reviewer: reviewer ?? null, id: findingId });
    if (!row) throw new StudioError('NOT_FOUND', `no finding ${findingId} in the review store`, String(findingId));
    return this.toFinding(row);
  }

  /** The live findings on an image, model findings by score then reviewer-added ones. */
  findings(imageId: number, reviewer?: string): FindingsView {
    const img = this.image(imageId);
    const rows = this.db
      .prepare<[{ reviewer: string | null; image: number }], FindingJoinRow>(`${this.findingSelect} WHERE f.image_id = @image AND f.withdrawn = 0 ORDER BY f.source = 'reviewer', f.score DESC, f.id`)
      .all({ reviewer: reviewer ?? null, image: imageId });
    const noLesion = this.imageDecisionRows(imageId).map((d) => d.reviewer);
    const view: FindingsView = { imageId, path: img.path, findings: rows.map((r) => this.toFinding(r)), flagged: img.flagged === 1, noLesion };
    if (img.flag_note) view.note = img.flag_note;
    return view;
  }

  /** Current image decisions, oldest first (by seq): of one image, or of all. Empty on a store older than version 3. */
  private imageDecisionRows(imageId?: number): { image_id: number; reviewer: string; decision: 'no-lesion'; note: string | null; decided: string; seq: number }[] {
    if (!this.hasImageDecisions) return [];
    return this.db
      .prepare<[{ image: number | null }], { image_id: number; reviewer: string; decision: 'no-lesion'; note: string | null; decided: string; seq: number }>(
        'SELECT image_id, reviewer, decision, note, decided, seq FROM image_decisions WHERE @image IS NULL OR image_id = @image ORDER BY seq',
      )
      .all({ image: imageId ?? null });
  }

  imageInfo(imageId: number): { id: number; path: string; width: number; height: number; flagged: boolean } {
    const img = this.image(imageId);
    return { id: img.id, path: img.path, width: img.width, height: img.height, flagged: img.flagged === 1 };
  }

  /**
   * Images with their review state. With `reviewer`, counts are that reviewer's own (what is pending for
   * them); without, each finding counts by its latest decision from anyone. An image is reviewed by one rule
   * (preload/review-status.ts `isReviewed`): an image with no finding only once a reader confirmed it has no
   * lesion. `total`/`reviewed` count the images the other filters select, before the status filter, so the
   * progress counter stays put while the list is narrowed to pending ones. `order: 'informative'` puts the
   * images still to review first, most informative first (main/review/informative.ts).
   */
  worklist(filter: WorklistFilter = {}): { items: WorklistItem[]; total: number; reviewed: number } {
    const images = this.db.prepare<[], { id: number; path: string; flagged: number }>('SELECT id, path, flagged FROM images ORDER BY id').all();
    const findings = this.db
      .prepare<[], { id: number; image_id: number; run_id: number | null; score: number | null; model: string | null }>('SELECT f.id, f.image_id, f.run_id, f.score, r.model FROM findings f LEFT JOIN model_runs r ON r.id = f.run_id WHERE f.withdrawn = 0')
      .all();
    const decisions = this.db
      .prepare<[], { finding_id: number; reviewer: string; decision: Exclude<Decision, 'pending'>; seq: number }>('SELECT d.finding_id, d.reviewer, d.decision, d.seq FROM decisions d JOIN findings f ON f.id = d.finding_id WHERE f.withdrawn = 0 ORDER BY d.seq')
      .all();
    const byFinding = new Map<number, { reviewer: string; decision: Exclude<Decision, 'pending'> }[]>();
    for (const d of decisions) {
      let list = byFinding.get(d.finding_id);
      if (!list) byFinding.set(d.finding_id, (list = []));
      list.push(d);
    }
    const noLesionBy = new Map<number, Set<string>>();
    for (const d of this.imageDecisionRows()) {
      let set = noLesionBy.get(d.image_id);
      if (!set) noLesionBy.set(d.image_id, (set = new Set()));
      set.add(d.reviewer);
    }
    // With a model filter, that model's runs only: the warning is about the findings the list is showing.
    const mismatches = this.firstMismatches(filter.model);
    const signals = this.runSignals(filter.model);
    interface Acc { item: WorklistItem; models: Set<string>; reviewers: Set<string> }
    const acc = new Map<number, Acc>();
    for (const img of images) {
      acc.set(img.id, {
        item: { imageId: img.id, path: img.path, name: basename(img.path), pending: 0, accepted: 0, rejected: 0, edited: 0, added: 0, maxScore: 0, flagged: img.flagged === 1, reviewers: [], disagreement: false, noLesion: false },
        models: new Set(),
        reviewers: new Set(noLesionBy.get(img.id)),
      });
      const mismatch = mismatches.get(img.id);
      if (mismatch) acc.get(img.id)!.item.mismatch = mismatch;
    }
    for (const f of findings) {
      const a = acc.get(f.image_id);
      if (!a) continue;
      if (f.model) a.models.add(f.model);
      if (f.score != null && f.score > a.item.maxScore) a.item.maxScore = f.score;
      if (f.run_id != null && f.score != null) signals.get(f.image_id)?.get(f.run_id)?.scores.push(f.score);
      const ds = byFinding.get(f.id) ?? [];
      for (const d of ds) a.reviewers.add(d.reviewer);
      if (new Set(ds.map((d) => d.decision)).size > 1) a.item.disagreement = true;
      const mine = filter.reviewer ? ds.find((d) => d.reviewer === filter.reviewer) : ds[ds.length - 1];
      const state: Decision = mine?.decision ?? 'pending';
      a.item[state] += 1;
    }
    for (const [imageId, a] of acc) {
      const by = noLesionBy.get(imageId);
      const confirmed = filter.reviewer ? Boolean(by?.has(filter.reviewer)) : Boolean(by?.size);
      // A lesion confirmed on the image (added later, or by the latest decision of another reader) outweighs it.
      a.item.noLesion = confirmed && a.item.accepted + a.item.edited + a.item.added === 0;
      const score = informativeness([...(signals.get(imageId)?.values() ?? [])]);
      if (score !== undefined) a.item.informativeness = score;
    }
    let items = [...acc.values()]
      .filter((a) => !filter.model || a.models.has(filter.model))
      .filter((a) => filter.minScore === undefined || a.item.maxScore >= filter.minScore)
      .filter((a) => !filter.disagreement || a.item.disagreement)
      .map((a) => ({ ...a.item, reviewers: [...a.reviewers].sort() }));
    const total = items.length;
    const reviewed = items.filter(isReviewed).length;
    const status = filter.status ?? 'all';
    if (status === 'pending') items = items.filter((i) => !isReviewed(i));
    else if (status === 'done') items = items.filter(isReviewed);
    else if (status === 'flagged') items = items.filter((i) => i.flagged);
    if (filter.order === 'informative') items = informativeOrder(items, isReviewed);
    return { items, total, reviewed };
  }

  /**
   * Per image, per run (of `model`'s runs only, when given), what the run recorded for the informative order:
   * its threshold and lesion peak (NULL before schema 4), with an empty list for its findings' scores.
   */
  private runSignals(model?: string): Map<number, Map<number, { threshold: number | null; peak: number | null; scores: number[] }>> {
    const out = new Map<number, Map<number, { threshold: number | null; peak: number | null; scores: number[] }>>();
    const columns = this.hasRunSignals ? 'ri.threshold, ri.lesion_peak' : 'NULL AS threshold, NULL AS lesion_peak';
    const rows = this.db
      .prepare<[{ model: string | null }], { run_id: number; image_id: number; threshold: number | null; lesion_peak: number | null }>(
        `SELECT ri.run_id, ri.image_id, ${columns} FROM run_images ri JOIN model_runs r ON r.id = ri.run_id WHERE @model IS NULL OR r.model = @model`,
      )
      .all({ model: model ?? null });
    for (const r of rows) {
      let runs = out.get(r.image_id);
      if (!runs) out.set(r.image_id, (runs = new Map()));
      runs.set(r.run_id, { threshold: r.threshold, peak: r.lesion_peak, scores: [] });
    }
    return out;
  }

  /** Per image, the mismatch text of its first run (by run id) whose model was not for it; of `model`'s runs only, when given. */
  private firstMismatches(model?: string): Map<number, string> {
    const out = new Map<number, string>();
    if (this.mismatchColumn === 'NULL') return out;
    const rows = this.db
      .prepare<[{ model: string | null }], { image_id: number; mismatch: string }>(
        'SELECT ri.image_id, ri.mismatch FROM run_images ri JOIN model_runs r ON r.id = ri.run_id WHERE ri.mismatch IS NOT NULL AND (@model IS NULL OR r.model = @model) ORDER BY ri.run_id',
      )
      .all({ model: model ?? null });
    for (const r of rows) if (!out.has(r.image_id)) out.set(r.image_id, r.mismatch);
    return out;
  }

  // ---------------------------------------------------------------------------------------------------
  // Reviewing

  private decisionState(findingId: number, reviewer: string): DecisionState | null {
    const row = this.db
      .prepare<[number, string], { decision: Exclude<Decision, 'pending'>; annotation_id: number | null; note: string | null; x0: number | null; y0: number | null; x1: number | null; y1: number | null; mask: string | null }>(
        'SELECT d.decision, d.annotation_id, d.note, a.x0, a.y0, a.x1, a.y1, a.mask FROM decisions d LEFT JOIN annotations a ON a.id = d.annotation_id WHERE d.finding_id = ? AND d.reviewer = ?',
      )
      .get(findingId, reviewer);
    if (!row) return null;
    const state: DecisionState = { decision: row.decision, annotationId: row.annotation_id, note: row.note };
    if (row.x0 != null) state.box = [row.x0, row.y0!, row.x1!, row.y1!];
    const mask = parseMask(row.mask);
    if (mask) state.mask = mask;
    return state;
  }

  private setDecision(findingId: number, reviewer: string, state: DecisionState | null, seq: number): void {
    if (!state) {
      this.db.prepare('DELETE FROM decisions WHERE finding_id = ? AND reviewer = ?').run(findingId, reviewer);
      return;
    }
    this.db
      .prepare(
        `INSERT INTO decisions (finding_id, reviewer, decision, annotation_id, note, decided, seq) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (finding_id, reviewer) DO UPDATE SET decision = excluded.decision, annotation_id = excluded.annotation_id, note = excluded.note, decided = excluded.decided, seq = excluded.seq`,
      )
      .run(findingId, reviewer, state.decision, state.annotationId, state.note, now(), seq);
  }

  private liveFinding(findingId: number): { id: number; image_id: number; source: 'model' | 'reviewer'; created_by: string | null; mask: string | null; box: Box } {
    const f = this.db
      .prepare<[number], { id: number; image_id: number; source: 'model' | 'reviewer'; created_by: string | null; withdrawn: number; mask: string | null; x0: number; y0: number; x1: number; y1: number }>('SELECT id, image_id, source, created_by, withdrawn, mask, x0, y0, x1, y1 FROM findings WHERE id = ?')
      .get(findingId);
    if (!f || f.withdrawn) throw new StudioError('NOT_FOUND', `no finding ${findingId} in the review store`, String(findingId));
    return { id: f.id, image_id: f.image_id, source: f.source, created_by: f.created_by, mask: f.mask, box: [f.x0, f.y0, f.x1, f.y1] };
  }

  private annotate(findingId: number, reviewer: string, box: Box, mask: Rle | undefined): number {
    return Number(this.db.prepare('INSERT INTO annotations (finding_id, reviewer, x0, y0, x1, y1, mask, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(findingId, reviewer, box[0], box[1], box[2], box[3], json(mask), now()).lastInsertRowid);
  }

  /**
   * A reviewer's decision on a finding, committed before it returns. `edited` carries the corrected box, a
   * mask (the reader's outline of the lesion), or both; `accepted` may carry a mask. The outline is stored as
   * the decision's annotation (so undo, which restores the previous annotation, takes it back) and is what
   * the finding trains and exports as (`lesionShape`). Its box: an edited decision's box, or the mask's
   * bounding box when it comes alone; for an accepted one the finding's own box, unless the outline reaches
   * outside it, when the outline's bounding box (the box must hold the lesion it labels, and the reader's
   * outline is the lesion). An outline must overlap its box and be the image's size.
   */
  decide(req: { findingId: number; reviewer: string; decision: 'accepted' | 'rejected' | 'edited'; box?: Box; mask?: Rle; note?: string }): ReviewFinding {
    const reviewer = checkReviewer(req.reviewer);
    if (!['accepted', 'rejected', 'edited'].includes(req.decision)) throw new StudioError('INVALID_PAYLOAD', `unknown decision '${String(req.decision)}'`, 'decision');
    if (req.box !== undefined && req.decision !== 'edited') throw new StudioError('INVALID_PAYLOAD', "a box goes with the 'edited' decision only", 'box');
    if (req.mask !== undefined && req.decision === 'rejected') throw new StudioError('INVALID_PAYLOAD', "a mask goes with 'accepted' or 'edited': a rejected finding has no lesion to outline", 'mask');
    const box = req.box === undefined ? undefined : checkBox(req.box, 'box');
    this.write(() => {
      const f = this.liveFinding(req.findingId);
      const img = this.image(f.image_id);
      if (box) checkInside(box, img, 'box');
      let mask: Rle | undefined;
      if (req.mask !== undefined) {
        mask = checkRle(req.mask, img.width, img.height);
        if (rleArea(mask) === 0) throw new StudioError('INVALID_PAYLOAD', 'mask: the outline is empty: paint the lesion, or decide without a mask', 'mask');
      }
      const before = this.decisionState(f.id, reviewer);
      const ownAddition = f.source === 'reviewer' && f.created_by === reviewer;
      let after: DecisionState;
      if (req.decision === 'edited') {
        after = { decision: ownAddition ? 'added' : 'edited', annotationId: before?.annotationId ?? null, note: req.note ?? before?.note ?? null };
        if (before?.box) after.box = before.box;
        if (before?.mask) after.mask = before.mask;
        if (box || mask) {
          const annotated = box ?? (rleBox(mask!) as Box);
          if (mask) checkOverlap(mask, annotated, 'the edited box');
          // Moving only the box keeps this reader's own outline (their brush on an addition, or one sent with an
          // earlier accept or edit) while it still overlaps the box; one left outside marked another place.
          const kept = mask ?? before?.mask ?? (ownAddition ? parseMask(f.mask) : undefined);
          const outline = kept && (kept === mask || rleAreaIn(kept, annotated) > 0) ? kept : undefined;
          after.annotationId = this.annotate(f.id, reviewer, annotated, outline);
          after.box = annotated;
          if (outline) after.mask = outline;
          else delete after.mask;
        }
        if (after.annotationId == null) throw new StudioError('INVALID_PAYLOAD', "an 'edited' decision needs the corrected box or the lesion's mask", 'box');
      } else if (mask) {
        // Accepted with the reader's outline: the finding as proposed, its shape the reader's.
        checkOverlap(mask, f.box, "the finding's box");
        const annotated = rleAreaIn(mask, f.box) === rleArea(mask) ? f.box : (rleBox(mask) as Box);
        after = { decision: 'accepted', annotationId: this.annotate(f.id, reviewer, annotated, mask), box: annotated, mask, note: req.note ?? before?.note ?? null };
      } else {
        // Accepting or rejecting is about the finding as proposed: an earlier edit of this reviewer no longer applies.
        after = { decision: req.decision, annotationId: null, note: req.note ?? before?.note ?? null };
      }
      const seq = this.audit(reviewer, 'decide', 'decision', f.id, f.image_id, before, after);
      this.setDecision(f.id, reviewer, after, seq);
    });
    return this.finding(req.findingId, reviewer);
  }

  /** A lesion the model missed, drawn by a reviewer as a box and optionally a brush mask. */
  add(req: { imageId: number; reviewer: string; box: Box; mask?: Rle; note?: string }): ReviewFinding {
    const reviewer = checkReviewer(req.reviewer);
    const box = checkBox(req.box, 'box');
    const findingId = this.write(() => {
      const img = this.image(req.imageId);
      checkInside(box, img, 'box');
      let mask: Rle | undefined;
      if (req.mask) mask = checkRle(req.mask, img.width, img.height);
      const area = mask ? rleArea(mask) : (box[2] - box[0]) * (box[3] - box[1]);
      const at = now();
      const fid = Number(
        this.db.prepare("INSERT INTO findings (image_id, run_id, source, x0, y0, x1, y1, score, area, mask, created_by, created) VALUES (?, NULL, 'reviewer', ?, ?, ?, ?, NULL, ?, ?, ?, ?)").run(img.id, box[0], box[1], box[2], box[3], area, json(mask), reviewer, at).lastInsertRowid,
      );
      const annotationId = Number(this.db.prepare('INSERT INTO annotations (finding_id, reviewer, x0, y0, x1, y1, mask, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)').run(fid, reviewer, box[0], box[1], box[2], box[3], json(mask), at).lastInsertRowid);
      const after: DecisionState = { decision: 'added', annotationId, box, note: req.note ?? null };
      if (mask) after.mask = mask;
      const seq = this.audit(reviewer, 'add', 'finding', fid, img.id, null, after);
      this.setDecision(fid, reviewer, { decision: 'added', annotationId, note: req.note ?? null }, seq);
      return fid;
    });
    return this.finding(findingId, reviewer);
  }

  flag(req: { imageId: number; reviewer: string; flagged: boolean; note?: string }): { imageId: number; flagged: boolean } {
    const reviewer = checkReviewer(req.reviewer);
    return this.write(() => {
      const img = this.image(req.imageId);
      const before: ImageFlagState = { flagged: img.flagged === 1, note: img.flag_note, by: img.flagged_by };
      const after: ImageFlagState = { flagged: Boolean(req.flagged), note: req.note ?? img.flag_note ?? null, by: reviewer };
      this.audit(reviewer, 'flag', 'image', img.id, img.id, before, after);
      this.setFlag(img.id, after);
      return { imageId: img.id, flagged: after.flagged };
    });
  }

  private setFlag(imageId: number, s: ImageFlagState): void {
    this.db.prepare('UPDATE images SET flagged = ?, flag_note = ?, flagged_by = ? WHERE id = ?').run(s.flagged ? 1 : 0, s.note, s.by, imageId);
  }

  /**
   * A reader's "no lesion here" on a whole image: the only way an image with no finding becomes reviewed.
   * On an image with findings it also rejects, in the same transaction, every live finding this reader has
   * not decided, so one key finishes a frame of false positives; their own earlier decisions stay as they
   * were. One audit entry (entity 'image', `after.rejected` naming the rejected findings) records it all, so
   * one `undo` reverts it all. Refused where this reader confirmed a lesion (accepted, edited or added): the
   * two cannot both be theirs. Another reader's lesion does not stop it (it is rejected in this reader's
   * view, as any decision of theirs would); a lesion confirmed later outweighs it (the image is a positive).
   */
  confirmNoLesion(req: { imageId: number; reviewer: string; note?: string }): { imageId: number; noLesion: boolean; rejected: number[] } {
    const reviewer = checkReviewer(req.reviewer);
    if (req.note !== undefined && typeof req.note !== 'string') throw new StudioError('INVALID_PAYLOAD', 'a note is text', 'note');
    return this.write(() => {
      const img = this.image(req.imageId);
      const live = this.db
        .prepare<[string, number], { id: number; decision: Exclude<Decision, 'pending'> | null }>(
          'SELECT f.id, d.decision FROM findings f LEFT JOIN decisions d ON d.finding_id = f.id AND d.reviewer = ? WHERE f.image_id = ? AND f.withdrawn = 0 ORDER BY f.id',
        )
        .all(reviewer, img.id);
      const kept = live.filter((f) => f.decision === 'accepted' || f.decision === 'edited' || f.decision === 'added');
      if (kept.length) {
        throw new StudioError('INVALID_PAYLOAD', `${reviewer} confirmed a lesion on image ${img.id} (finding ${kept.map((f) => f.id).join(', ')}): reject it before saying the image has no lesion`, String(img.id));
      }
      const rejected = live.filter((f) => f.decision === null).map((f) => f.id);
      const before = this.imageDecisionState(img.id, reviewer);
      const after: ImageDecisionState = { decision: 'no-lesion', note: req.note ?? before?.note ?? null, rejected };
      const seq = this.audit(reviewer, 'decide', 'image', img.id, img.id, before, after);
      this.setImageDecision(img.id, reviewer, after, seq);
      for (const id of rejected) this.setDecision(id, reviewer, { decision: 'rejected', annotationId: null, note: null }, seq);
      return { imageId: img.id, noLesion: true, rejected };
    });
  }

  private imageDecisionState(imageId: number, reviewer: string): ImageDecisionState | null {
    const row = this.db.prepare<[number, string], { decision: 'no-lesion'; note: string | null }>('SELECT decision, note FROM image_decisions WHERE image_id = ? AND reviewer = ?').get(imageId, reviewer);
    return row ? { decision: row.decision, note: row.note } : null;
  }

  private setImageDecision(imageId: number, reviewer: string, state: ImageDecisionState | null, seq: number): void {
    if (!state) {
      this.db.prepare('DELETE FROM image_decisions WHERE image_id = ? AND reviewer = ?').run(imageId, reviewer);
      return;
    }
    this.db
      .prepare(
        `INSERT INTO image_decisions (image_id, reviewer, decision, note, decided, seq) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (image_id, reviewer) DO UPDATE SET decision = excluded.decision, note = excluded.note, decided = excluded.decided, seq = excluded.seq`,
      )
      .run(imageId, reviewer, state.decision, state.note, now(), seq);
  }

  /** Reverts this reviewer's latest change not yet undone (repeatable: each call steps one further back). */
  undo(reviewerName: string): UndoResult {
    const reviewer = checkReviewer(reviewerName);
    const result = this.write((): { undone: boolean; imageId?: number; findingId?: number } => {
      const last = this.db
        .prepare<[string], { id: number; action: string; entity: string; entity_id: number; image_id: number | null; before: string | null; after: string | null }>(
          `SELECT a.id, a.action, a.entity, a.entity_id, a.image_id, a.before, a.after FROM audit a
           WHERE a.who = ? AND a.action IN ('decide', 'add', 'flag') AND NOT EXISTS (SELECT 1 FROM audit u WHERE u.undoes = a.id)
           ORDER BY a.id DESC LIMIT 1`,
        )
        .get(reviewer);
      if (!last) return { undone: false };
      if (last.action === 'decide' && last.entity === 'image') {
        // A "no lesion": its image decision goes back to what it was, and the findings it rejected (undecided
        // by this reader before it) are undecided again. Undo steps back newest first, so nothing of this
        // reader's on those findings is newer than it.
        const current = this.imageDecisionState(last.entity_id, reviewer);
        const done = parse<ImageDecisionState>(last.after);
        const restore = parse<ImageDecisionState | null>(last.before) ?? null;
        const seq = this.audit(reviewer, 'undo', 'image', last.entity_id, last.image_id, current, restore, last.id);
        this.setImageDecision(last.entity_id, reviewer, restore && { decision: restore.decision, note: restore.note }, seq);
        for (const id of done?.rejected ?? []) this.setDecision(id, reviewer, null, 0);
        return { undone: true, imageId: last.entity_id };
      }
      if (last.action === 'flag') {
        const img = this.image(last.entity_id);
        const current: ImageFlagState = { flagged: img.flagged === 1, note: img.flag_note, by: img.flagged_by };
        const restore = parse<ImageFlagState>(last.before)!;
        this.audit(reviewer, 'undo', 'image', img.id, img.id, current, restore, last.id);
        this.setFlag(img.id, restore);
        return { undone: true, imageId: img.id };
      }
      const findingId = last.entity_id;
      const current = this.decisionState(findingId, reviewer);
      if (last.action === 'add') {
        // The added finding is withdrawn, not deleted, so the audit entries that name it still resolve.
        this.audit(reviewer, 'undo', 'finding', findingId, last.image_id, current, null, last.id);
        this.db.prepare('UPDATE findings SET withdrawn = 1 WHERE id = ?').run(findingId);
        this.setDecision(findingId, reviewer, null, 0);
        return { undone: true, imageId: last.image_id ?? undefined };
      }
      const restore = parse<DecisionState | null>(last.before) ?? null;
      const seq = this.audit(reviewer, 'undo', 'decision', findingId, last.image_id, current, restore, last.id);
      this.setDecision(findingId, reviewer, restore && { decision: restore.decision, annotationId: restore.annotationId, note: restore.note }, seq);
      return { undone: true, imageId: last.image_id ?? undefined, findingId };
    });
    const out: UndoResult = { undone: result.undone };
    if (result.imageId !== undefined) out.imageId = result.imageId;
    if (result.findingId !== undefined) out.finding = this.finding(result.findingId, reviewer);
    return out;
  }

  // ---------------------------------------------------------------------------------------------------
  // Audit, exports, maintenance

  auditTrail(filter: { who?: string; imageId?: number } = {}): AuditEntry[] {
    const rows = this.db
      .prepare<[{ who: string | null; image: number | null }], { id: number; at: string; who: string; action: AuditEntry['action']; entity: AuditEntry['entity']; entity_id: number; image_id: number | null; before: string | null; after: string | null; undoes: number | null }>(
        'SELECT * FROM audit WHERE (@who IS NULL OR who = @who) AND (@image IS NULL OR image_id = @image) ORDER BY id',
      )
      .all({ who: filter.who ?? null, image: filter.imageId ?? null });
    return rows.map((r) => ({ id: r.id, at: r.at, who: r.who, action: r.action, entity: r.entity, entityId: r.entity_id, imageId: r.image_id, before: parse(r.before) ?? null, after: parse(r.after) ?? null, undoes: r.undoes }));
  }

  /** Every image as exports and the dataset describe it, by id. */
  private reviewImageMap(): Map<number, ReviewRow['image']> {
    const imageMismatch = this.firstMismatches();
    return new Map(
      this.db
        .prepare<[], { id: number; path: string; content_hash: string; width: number; height: number; study_uid: string | null; series_uid: string | null; sop_uid: string | null; sop_class_uid: string | null; flagged: number; flag_note: string | null }>('SELECT * FROM images ORDER BY id')
        .all()
        .map((i) => {
          const uids: ImageUids = {};
          if (i.study_uid) uids.study = i.study_uid;
          if (i.series_uid) uids.series = i.series_uid;
          if (i.sop_uid) uids.sop = i.sop_uid;
          if (i.sop_class_uid) uids.sopClass = i.sop_class_uid;
          const image: ReviewRow['image'] = { id: i.id, path: i.path, contentHash: i.content_hash, width: i.width, height: i.height, uids, flagged: i.flagged === 1 };
          if (i.flag_note) image.flagNote = i.flag_note;
          const mismatch = imageMismatch.get(i.id);
          if (mismatch) image.mismatch = mismatch;
          return [i.id, image] as const;
        }),
    );
  }

  /** Every image, with or without findings, and its readers' current image decisions (oldest first). */
  imageReviews(): ImageReview[] {
    const byImage = new Map<number, ImageDecision[]>();
    for (const d of this.imageDecisionRows()) {
      let list = byImage.get(d.image_id);
      if (!list) byImage.set(d.image_id, (list = []));
      const out: ImageDecision = { reviewer: d.reviewer, decision: d.decision, decided: d.decided };
      if (d.note) out.note = d.note;
      list.push(out);
    }
    return [...this.reviewImageMap().values()].map((image) => ({ image, decisions: byImage.get(image.id) ?? [] }));
  }

  /** `reviewRows` and `imageReviews` read in one transaction: one snapshot, even while a writer commits. */
  review(): { rows: ReviewRow[]; images: ImageReview[] } {
    return this.db.transaction(() => ({ rows: this.reviewRows(), images: this.imageReviews() }))();
  }

  /** Every live finding with every reviewer's decision: the one read exports and the dataset build on. */
  reviewRows(): ReviewRow[] {
    const images = this.reviewImageMap();
    const decisions = this.db
      .prepare<[], { finding_id: number; reviewer: string; decision: Exclude<Decision, 'pending'>; note: string | null; decided: string; x0: number | null; y0: number | null; x1: number | null; y1: number | null; mask: string | null }>(
        'SELECT d.finding_id, d.reviewer, d.decision, d.note, d.decided, a.x0, a.y0, a.x1, a.y1, a.mask FROM decisions d LEFT JOIN annotations a ON a.id = d.annotation_id ORDER BY d.seq',
      )
      .all();
    const byFinding = new Map<number, typeof decisions>();
    for (const d of decisions) {
      let list = byFinding.get(d.finding_id);
      if (!list) byFinding.set(d.finding_id, (list = []));
      list.push(d);
    }
    const findings = this.db
      .prepare<[], { id: number; image_id: number; source: 'model' | 'reviewer'; run_id: number | null; model: string | null; x0: number; y0: number; x1: number; y1: number; score: number | null; area: number | null; mask: string | null; mismatch: string | null }>(
        `SELECT f.id, f.image_id, f.source, f.run_id, r.model, f.x0, f.y0, f.x1, f.y1, f.score, f.area, f.mask, ${this.mismatchColumn} AS mismatch
         FROM findings f LEFT JOIN model_runs r ON r.id = f.run_id LEFT JOIN run_images ri ON ri.run_id = f.run_id AND ri.image_id = f.image_id
         WHERE f.withdrawn = 0 ORDER BY f.image_id, f.id`,
      )
      .all();
    return findings.map((f) => {
      const proposed: Box = [f.x0, f.y0, f.x1, f.y1];
      const ownMask = parseMask(f.mask);
      const finding: ReviewRow['finding'] = { id: f.id, source: f.source, box: proposed };
      if (f.model) finding.model = f.model;
      if (f.run_id != null) finding.runId = f.run_id;
      if (f.score != null) finding.score = f.score;
      if (f.area != null) finding.area = f.area;
      if (f.mismatch) finding.mismatch = f.mismatch;
      const ds = (byFinding.get(f.id) ?? []).map((d) => {
        const hasGeom = d.x0 != null;
        const out: ReviewRow['decisions'][number] = { reviewer: d.reviewer, decision: d.decision, box: hasGeom ? [d.x0!, d.y0!, d.x1!, d.y1!] : proposed, decided: d.decided };
        const shape = lesionShape(f.source, ownMask, hasGeom ? { box: out.box, mask: parseMask(d.mask) } : null);
        if (shape) out.mask = shape.mask;
        if (d.note) out.note = d.note;
        return out;
      });
      const last = ds[ds.length - 1];
      const effective: ReviewRow['effective'] = last ? { ...last } : { decision: 'pending', box: proposed, ...(ownMask ? { mask: ownMask } : {}) };
      return { image: images.get(f.image_id)!, finding, decisions: ds, effective };
    });
  }

  integrityCheck(): string {
    return String(this.db.pragma('integrity_check', { simple: true }));
  }

  /** Direct SQL, for tests and maintenance tools (the audit-trail triggers still apply). */
  get sql(): Database.Database {
    return this.db;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function openError(file: string, err: unknown): StudioError {
  if (err instanceof StudioError) return err;
  const e = err as { code?: string; message?: string };
  const reason = e?.message ?? String(err);
  if (/NODE_MODULE_VERSION|was compiled against a different/i.test(reason)) {
    // Electron runs its own Node ABI: the addon built for plain Node will not load there until rebuilt.
    return new StudioError('UNSUPPORTED', `the review store needs better-sqlite3 built for this runtime (${process.versions.electron ? `Electron ${process.versions.electron}` : `Node ${process.versions.node}`}): run \`npx @electron/rebuild -f -w better-sqlite3\` for Electron, or \`npm rebuild better-sqlite3\` for Node. (${reason.split('\n')[0]})`, file);
  }
  if (e?.code === 'SQLITE_NOTADB' || /not a database/i.test(reason)) return new StudioError('DECODE_FAILED', `review store ${file} is not a SQLite database (${reason})`, file);
  if (e?.code === 'SQLITE_CANTOPEN' || /unable to open|directory does not exist|ENOENT|EACCES/i.test(reason)) return new StudioError('NOT_FOUND', `review store ${file} cannot be opened: ${reason}`, file);
  if (e?.code?.startsWith('SQLITE_BUSY')) return new StudioError('BUSY', `review store ${file} is locked by another process: ${reason}`, file);
  return new StudioError('INTERNAL', `review store ${file} cannot be opened: ${reason}`, file);
}

export function openStore(file: string = defaultStorePath(), options: OpenOptions = {}): ReviewStore {
  return new ReviewStore(file, options);
}
