/**
 * Review: a worklist of images with the detector's findings, and keyboard-driven decisions on them.
 * A accept · R reject · N no lesion on this image (rejects the findings you have not decided) · ↓/↑
 * next/previous finding · →/← next/previous image · E edit the selected box with handles · B draw a new
 * box · M paint a mask (Enter saves, Esc cancels, [ ] brush size, Shift+drag erases): over the selected
 * finding it is your outline of that lesion, sent with accepting it (or with your edited box); elsewhere it
 * adds a lesion the model missed · F flag the image ·
 * Ctrl+Z undo your last change. N took the place of N/P for findings: an image with no finding is reviewed
 * only when a reader says "no lesion" (issue 24), so that decision gets a key of its own.
 * Every change goes to the store at once (one committed transaction per call); nothing waits for a save.
 */
import { useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from 'react';
import type { FramePixels, ImageSummary, Response, ReviewFinding, StudioApi, WorklistItem } from '../../../preload/contract.ts';
import { isReviewed } from '../../../preload/review-status.ts';
import { useModels } from '../hooks/useModels.ts';
import { errorText } from '../shared/errors.ts';
import { initialMode } from '../viewer/presets.ts';
import { DECISION_COLOURS, type Mode, ReviewCanvas } from './ReviewCanvas.tsx';
import type { Box } from './geometry.ts';
import { maskBox, rleEncode } from './rle.ts';
import { rleAreaIn } from '../../../preload/mask-box.ts';
import './review.css';

type Status = 'all' | 'pending' | 'done' | 'flagged';
type Order = 'file' | 'informative';
interface Filters {
  status: Status;
  order: Order;
  minScore: number;
  model: string;
  reviewer: string;
  disagreement: boolean;
}
interface Loaded {
  path: string;
  summary: ImageSummary;
  frame: FramePixels;
}

const REVIEWER_KEY = 'studio.reviewer';

function storedReviewer(): string {
  try {
    return localStorage.getItem(REVIEWER_KEY) || 'reviewer';
  } catch {
    return 'reviewer';
  }
}

export default function ReviewPanel({ api }: { api: StudioApi }) {
  const root = useRef<HTMLDivElement>(null);
  const [reviewer, setReviewer] = useState(storedReviewer);
  const [filters, setFilters] = useState<Filters>({ status: 'all', order: 'file', minScore: 0, model: '', reviewer: '', disagreement: false });
  const [worklist, setWorklist] = useState<Response<'review.worklist'> | null>(null);
  const [imageId, setImageId] = useState<number | null>(null);
  const [view, setView] = useState<Response<'review.findings'> | null>(null);
  const [selected, setSelected] = useState<number | null>(null);
  const [mode, setMode] = useState<Mode>('review');
  const [loaded, setLoaded] = useState<Loaded | null>(null);
  const [imageError, setImageError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [status, setStatus] = useState<string>('');
  const [note, setNote] = useState('');
  const [brush, setBrush] = useState(6);
  const { models } = useModels(api);
  const paint = useRef<Uint8Array | null>(null);
  const [, setPainted] = useState(0);
  const images = useRef(new Map<string, Loaded>());
  // Calls that change the store run one after another, in the order the keys were pressed.
  const queue = useRef<Promise<unknown>>(Promise.resolve());
  const enqueue = useCallback(<T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    const next = queue.current.then(fn).catch((e) => {
      setError(errorText(e));
      return undefined;
    });
    queue.current = next;
    return next;
  }, []);

  useEffect(() => {
    try {
      localStorage.setItem(REVIEWER_KEY, reviewer);
    } catch {
      // Storage disabled: the name lasts for this session only.
    }
  }, [reviewer]);

  const refreshWorklist = useCallback(async () => {
    try {
      const list = await api['review.worklist']({
        status: filters.status,
        order: filters.order,
        ...(filters.model ? { model: filters.model } : {}),
        ...(filters.reviewer.trim() ? { reviewer: filters.reviewer.trim() } : {}),
        ...(filters.minScore > 0 ? { minScore: filters.minScore } : {}),
        ...(filters.disagreement ? { disagreement: true } : {}),
      });
      setWorklist(list);
      setError(null);
      setImageId((current) => current ?? (list.items.find((i) => !isReviewed(i)) ?? list.items[0])?.imageId ?? null);
    } catch (e) {
      setError(errorText(e));
    }
  }, [api, filters]);

  useEffect(() => {
    // refreshWorklist sets state only after its await, which the rule does not see (react/react#34905).
    // eslint-disable-next-line react-hooks/set-state-in-effect
    void refreshWorklist();
  }, [refreshWorklist]);

  // The image on screen, for answers that arrive after the reviewer has moved on (set on commit: a render
  // React throws away must not change it).
  const imageIdRef = useRef<number | null>(null);
  useLayoutEffect(() => {
    imageIdRef.current = imageId;
  }, [imageId]);

  const loadFindings = useCallback(
    async (id: number, keepSelection: boolean) => {
      try {
        const v = await api['review.findings']({ imageId: id });
        // A slow answer for an image the reviewer has already left must not replace the current one.
        if (id !== imageIdRef.current) return;
        setView(v);
        setSelected((sel) => (keepSelection && sel !== null && v.findings.some((f) => f.id === sel) ? sel : (v.findings.find((f) => f.decision === 'pending') ?? v.findings[0])?.id ?? null));
      } catch (e) {
        setError(errorText(e));
      }
    },
    [api],
  );
  useEffect(() => {
    // Another image: nothing of the last one's stays on screen while its findings load.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    setView(null);
    setMode('review');
    setNote('');
    if (imageId !== null) void loadFindings(imageId, false);
  }, [imageId, loadFindings]);

  // Pixels for the image: opened by path through imaging, a few kept for quick back-and-forth.
  useEffect(() => {
    const path = view?.path;
    if (!path) return;
    let live = true;
    // A cached image shows at once; otherwise the last one's pixels and error go while this one loads.
    // eslint-disable-next-line react-hooks/set-state-in-effect
    setImageError(null);
    const cached = images.current.get(path);
    if (cached) {
      setLoaded(cached);
      return;
    }
    setLoaded(null);
    (async () => {
      const opened = await api['imaging.open']({ paths: [path] });
      if (opened.errors.length || !opened.images.length) throw new Error(opened.errors[0]?.message ?? `cannot open ${path}`);
      const summary = opened.images[0];
      const frame = await api['imaging.frame']({ id: summary.id, frame: 0 });
      const entry = { path, summary, frame };
      images.current.set(path, entry);
      if (images.current.size > 4) {
        const [oldPath, old] = images.current.entries().next().value as [string, Loaded];
        images.current.delete(oldPath);
        api['imaging.close']({ ids: [old.summary.id] }).catch(() => {});
      }
      if (live) setLoaded(entry);
    })().catch((e) => live && setImageError(errorText(e)));
    return () => {
      live = false;
    };
  }, [api, view?.path]);

  // Changes from elsewhere (another window, the batch, our own calls): refresh what is on screen.
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const off = api.on('review.changed', ({ imageId: changed }) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        void refreshWorklist();
        if (changed === imageIdRef.current) void loadFindings(changed, true);
      }, 150);
    });
    return () => {
      clearTimeout(timer);
      off();
    };
  }, [api, refreshWorklist, loadFindings]);

  const findings = view?.findings ?? [];
  const current = findings.find((f) => f.id === selected) ?? null;
  // The model that proposed these findings was run on an image it is not for (studio analyze --force).
  const mismatchNote = findings.find((f) => f.mismatch)?.mismatch;
  // Shown as the viewer first shows it: the file's window, its VOI LUT, or the full range (colour as it is).
  const voi = useMemo(() => (loaded ? initialMode(loaded.summary, !!loaded.frame.voiLut) : null), [loaded]);
  // The pixels of the image whose findings are on screen (not the last image's while this one loads): what a
  // mask is painted on, at that image's size.
  const shown = loaded && view && loaded.path === view.path ? loaded : null;

  // The note box starts from the selected finding's note when it is this reviewer's, again whenever the
  // selection, its note or the reviewer changes. Set while rendering, as React's docs do for state that
  // follows a prop, so another finding never shows the last one's note.
  const noteSource = [current?.id, current?.note, current?.reviewer, reviewer];
  const [noteFrom, setNoteFrom] = useState(noteSource);
  if (noteSource.some((v, i) => v !== noteFrom[i])) {
    setNoteFrom(noteSource);
    setNote(current && current.reviewer === reviewer ? (current.note ?? '') : '');
  }

  const replace = (f: ReviewFinding) => setView((v) => (v && v.imageId === f.imageId ? { ...v, findings: v.findings.some((x) => x.id === f.id) ? v.findings.map((x) => (x.id === f.id ? f : x)) : [...v.findings, f] } : v));
  const saved = (what: string) => setStatus(`${what} · saved`);

  const decide = (decision: 'accepted' | 'rejected') => {
    if (!current) return;
    const target = current;
    const idx = findings.findIndex((f) => f.id === target.id);
    const noteText = note.trim();
    replace({ ...target, decision, reviewer });
    if (idx + 1 < findings.length) setSelected(findings[idx + 1].id);
    void enqueue(async () => {
      const f = await api['review.decide']({ findingId: target.id, reviewer, decision, ...(noteText ? { note: noteText } : {}) });
      replace(f);
      saved(`${decision} finding ${f.id}`);
      return true;
    }).then((ok) => {
      // A refused decision: show the store's truth again instead of the optimistic one.
      if (!ok && imageIdRef.current !== null) void loadFindings(imageIdRef.current, true);
    });
  };

  const editBox = (id: number, box: Box) => {
    const target = findings.find((f) => f.id === id);
    if (!target) return;
    const noteText = note.trim();
    replace({ ...target, box, decision: target.source === 'reviewer' && target.reviewer === reviewer ? target.decision : 'edited', reviewer });
    void enqueue(async () => {
      const f = await api['review.decide']({ findingId: id, reviewer, decision: 'edited', box, ...(noteText ? { note: noteText } : {}) });
      replace(f);
      saved(`edited finding ${f.id}`);
    });
  };

  const addFinding = (box: Box, mask?: { counts: number[]; size: [number, number] }) => {
    if (imageId === null) return;
    const noteText = note.trim();
    setMode('review');
    void enqueue(async () => {
      const f = await api['review.add']({ imageId, reviewer, box, ...(mask ? { mask } : {}), ...(noteText ? { note: noteText } : {}) });
      replace(f);
      setSelected(f.id);
      saved(`added finding ${f.id}`);
    });
  };

  /**
   * The reader's outline of the selected finding's lesion: sent with accepting it, or with the box when the
   * reader edited it (their own addition stays an addition). The store answers with the box it kept (an
   * accepted outline reaching outside the finding's box takes the outline's).
   */
  const outlineFinding = (target: ReviewFinding, mask: { counts: number[]; size: [number, number] }) => {
    const mine = target.reviewer === reviewer;
    const edited = mine && (target.decision === 'edited' || (target.decision === 'added' && target.source === 'reviewer'));
    const noteText = note.trim();
    setMode('review');
    replace({ ...target, decision: edited ? target.decision : 'accepted', reviewer, mask, maskBy: 'reader' });
    void enqueue(async () => {
      const f = await api['review.decide']({ findingId: target.id, reviewer, decision: edited ? 'edited' : 'accepted', ...(edited ? { box: target.box } : {}), mask, ...(noteText ? { note: noteText } : {}) });
      replace(f);
      saved(`${edited ? 'edited' : 'accepted'} finding ${f.id} with your mask`);
      return true;
    }).then((ok) => {
      if (!ok && imageIdRef.current !== null) void loadFindings(imageIdRef.current, true);
    });
  };

  const commitMask = () => {
    const m = paint.current;
    if (!m || !shown) return;
    const { columns: w, rows: h } = shown.frame;
    const box = maskBox(m, w, h);
    paint.current = null;
    if (!box) {
      setMode('review');
      return;
    }
    const rle = rleEncode(m, w, h);
    // Over the selected finding's box (by the store's own pixel rule) the stroke outlines that lesion;
    // anywhere else it is a lesion the model missed.
    if (current && rleAreaIn(rle, current.box) > 0) outlineFinding(current, rle);
    else addFinding(box, rle);
  };

  const saveNote = () => {
    if (!current || current.reviewer !== reviewer || (current.note ?? '') === note.trim()) return;
    const target = current;
    const text = note.trim();
    void enqueue(async () => {
      // An accept re-sent with a note keeps the reader's outline (an accept without one is the finding as proposed).
      const outline = target.decision === 'accepted' && target.maskBy === 'reader' && target.mask ? { mask: target.mask } : {};
      const f =
        target.decision === 'accepted' || target.decision === 'rejected'
          ? await api['review.decide']({ findingId: target.id, reviewer, decision: target.decision, ...outline, note: text })
          : await api['review.decide']({ findingId: target.id, reviewer, decision: 'edited', box: target.box, note: text });
      replace(f);
      saved('note');
    });
  };

  const toggleFlag = () => {
    if (!view) return;
    const flagged = !view.flagged;
    setView({ ...view, flagged });
    void enqueue(async () => {
      await api['review.flag']({ imageId: view.imageId, reviewer, flagged });
      saved(flagged ? 'flagged image' : 'unflagged image');
      void refreshWorklist();
    });
  };

  /** "No lesion on this image": the store also rejects this reader's undecided findings on it (one undo takes it all back). */
  const noLesion = () => {
    if (!view) return;
    const target = view;
    const noteText = current ? '' : note.trim();
    void enqueue(async () => {
      const r = await api['review.noLesion']({ imageId: target.imageId, reviewer, ...(noteText ? { note: noteText } : {}) });
      saved(r.rejected.length ? `no lesion · rejected ${r.rejected.length} finding${r.rejected.length === 1 ? '' : 's'}` : 'no lesion');
      if (imageIdRef.current === target.imageId) await loadFindings(target.imageId, true);
      void refreshWorklist();
    });
  };

  const undo = () => {
    void enqueue(async () => {
      const r = await api['review.undo']({ reviewer });
      setStatus(r.undone ? 'undone' : 'nothing of yours to undo');
      if (imageIdRef.current !== null) await loadFindings(imageIdRef.current, true);
      void refreshWorklist();
    });
  };

  const step = (delta: number) => {
    if (!findings.length) return;
    const idx = findings.findIndex((f) => f.id === selected);
    const next = Math.min(findings.length - 1, Math.max(0, (idx < 0 ? (delta > 0 ? -1 : findings.length) : idx) + delta));
    setSelected(findings[next].id);
    if (mode === 'edit') setMode('review');
  };

  const stepImage = (delta: number) => {
    const items = worklist?.items ?? [];
    if (!items.length) return;
    const idx = items.findIndex((i) => i.imageId === imageId);
    let next: WorklistItem | undefined;
    // Most informative first: an image just reviewed moves below those still to review, so forward from it
    // is the head of the list, the most informative one left.
    if (filters.order === 'informative' && delta > 0 && idx >= 0 && isReviewed(items[idx])) next = items.find((i) => !isReviewed(i)) ?? items[idx + 1];
    else if (idx >= 0) next = items[idx + delta];
    // The current image may have left a filtered list: go by id order instead.
    else next = delta > 0 ? items.find((i) => imageId === null || i.imageId > imageId) : [...items].reverse().find((i) => imageId === null || i.imageId < imageId);
    if (next) setImageId(next.imageId);
  };

  const enterMask = () => {
    if (!shown) return;
    paint.current = new Uint8Array(shown.frame.columns * shown.frame.rows);
    setMode('mask');
  };

  // One window listener, always calling the latest closure (set on commit); inactive while the panel is
  // hidden or typing.
  const keys = useRef<(e: KeyboardEvent) => void>(() => {});
  useLayoutEffect(() => {
    keys.current = (e: KeyboardEvent) => {
      if (!root.current || root.current.offsetParent === null) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT' || t.isContentEditable)) {
        if (t.tagName === 'TEXTAREA' && e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
          e.preventDefault();
          saveNote();
          t.blur();
        } else if (e.key === 'Escape') t.blur();
        return;
      }
      const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
      if ((e.ctrlKey || e.metaKey) && k === 'z') {
        e.preventDefault();
        undo();
        return;
      }
      if (e.ctrlKey || e.metaKey || e.altKey) return;
      let handled = true;
      if (mode === 'mask') {
        if (k === 'Enter' || k === 'm') commitMask();
        else if (k === 'Escape') {
          paint.current = null;
          setMode('review');
        } else if (k === '[') setBrush((b) => Math.max(1, b - 1));
        else if (k === ']') setBrush((b) => Math.min(200, b + 1));
        else handled = false;
      } else if (k === 'a') decide('accepted');
      else if (k === 'r') decide('rejected');
      else if (k === 'n' && !e.shiftKey) noLesion();
      else if (k === 'ArrowDown') step(1);
      else if (k === 'ArrowUp') step(-1);
      else if (k === 'ArrowRight' || k === 'PageDown') stepImage(1);
      else if (k === 'ArrowLeft' || k === 'PageUp') stepImage(-1);
      else if (k === 'e') setMode((m) => (m === 'edit' ? 'review' : current ? 'edit' : m));
      else if (k === 'b') setMode((m) => (m === 'box' ? 'review' : 'box'));
      else if (k === 'm') enterMask();
      else if (k === 'f') toggleFlag();
      else if (k === 'Escape') setMode('review');
      else handled = false;
      if (handled) e.preventDefault();
    };
  });
  useEffect(() => {
    const listener = (e: KeyboardEvent) => keys.current(e);
    window.addEventListener('keydown', listener);
    return () => window.removeEventListener('keydown', listener);
  }, []);

  const set = (patch: Partial<Filters>) => setFilters((f) => ({ ...f, ...patch }));
  const modeHelp: Record<Mode, string> = {
    review: 'A accept · R reject · N no lesion · ↓/↑ finding · ←/→ image · E edit · B box · M mask · F flag · Ctrl+Z undo',
    edit: 'Drag the handles or the box; Esc ends editing',
    box: 'Drag on the image to draw a lesion box; Esc cancels',
    mask: `Paint the lesion (brush ${brush} px, [ ] to resize, Shift+drag erases): over the selected finding it is your outline of it, elsewhere a new lesion; Enter or M saves, Esc cancels`,
  };

  return (
    <div ref={root} className="review" data-testid="review-panel">
      <aside className="review-side">
        <label className="field">
          <span>Reviewer</span>
          <input data-testid="review-reviewer" value={reviewer} maxLength={100} onChange={(e) => setReviewer(e.target.value || 'reviewer')} />
        </label>
        <div className="review-filters">
          <label className="field">
            <span>Status</span>
            <select data-testid="review-status" value={filters.status} onChange={(e) => set({ status: e.target.value as Status })}>
              <option value="all">All</option>
              <option value="pending">Pending</option>
              <option value="done">Reviewed</option>
              <option value="flagged">Flagged</option>
            </select>
          </label>
          <label className="field">
            <span>Min score {filters.minScore.toFixed(2)}</span>
            <input type="range" min={0} max={1} step={0.05} value={filters.minScore} onChange={(e) => set({ minScore: Number(e.target.value) })} />
          </label>
          <label className="field">
            <span>Model</span>
            <input list="review-models" value={filters.model} placeholder="any" onChange={(e) => set({ model: e.target.value.replace(/[^A-Za-z0-9._-]/g, '') })} />
            <datalist id="review-models">
              {models.map((m) => (
                <option key={m.name} value={m.name} />
              ))}
            </datalist>
          </label>
          <label className="field">
            <span>Reviewer's view</span>
            <input value={filters.reviewer} placeholder="everyone (latest decision)" onChange={(e) => set({ reviewer: e.target.value })} />
          </label>
          <label className="check">
            <input type="checkbox" checked={filters.disagreement} onChange={(e) => set({ disagreement: e.target.checked })} /> Reviewers disagree
          </label>
        </div>
        <div className="review-worklist-header">
          <span className="review-progress" data-testid="review-progress">
            {worklist ? `${worklist.reviewed} of ${worklist.total} reviewed` : 'Loading…'}
          </span>
          <select data-testid="review-order" aria-label="Worklist order" title="Most informative first: images to review whose lesion map or findings came closest to the model's threshold" value={filters.order} onChange={(e) => set({ order: e.target.value as Order })}>
            <option value="file">File order</option>
            <option value="informative">Most informative first</option>
          </select>
        </div>
        <ul className="review-worklist" data-testid="review-worklist">
          {worklist?.items.map((item) => (
            <li key={item.imageId}>
              <button type="button" data-testid="review-item" data-image-id={item.imageId} className={item.imageId === imageId ? 'review-item active' : 'review-item'} onClick={() => setImageId(item.imageId)}>
                <span className="review-item-name" title={item.path}>
                  {item.flagged && <span className="review-flag" title="flagged">⚑</span>}
                  {item.name}
                </span>
                <span className="review-item-counts">
                  <span data-testid="review-item-state">
                    <ItemState item={item} />
                    {item.accepted + item.edited + item.added > 0 && <span style={{ color: DECISION_COLOURS.accepted }}> · {item.accepted + item.edited + item.added} kept</span>}
                    {item.rejected > 0 && <span style={{ color: DECISION_COLOURS.rejected }}> · {item.rejected} rejected</span>}
                    {item.disagreement && <span className="review-disagree"> · disagree</span>}
                    {findingCount(item) > 0 && <span className="muted"> · max {item.maxScore.toFixed(2)}</span>}
                  </span>
                  {item.informativeness !== undefined && (
                    <span className="muted" data-testid="review-item-informativeness" title="How informative a review would be (1: the model was at its threshold)">
                      {' '}· info {item.informativeness.toFixed(2)}
                    </span>
                  )}
                </span>
              </button>
            </li>
          ))}
          {worklist && worklist.items.length === 0 && (
            <li className="empty-list">No images here. Record findings with <code>studio analyze … --store</code>.</li>
          )}
        </ul>
      </aside>
      <section className="review-main">
        <div className="toolbar">
          <span className="strong" data-testid="review-image-name">{view ? view.path.split(/[\\/]/).pop() : '—'}</span>
          {view?.flagged && <span className="chip review-flag-chip" data-testid="review-flagged">⚑ flagged</span>}
          {view?.noLesion.includes(reviewer) && !findings.some((f) => f.decision === 'accepted' || f.decision === 'edited' || f.decision === 'added') && <span className="chip" data-testid="review-no-lesion" title="You confirmed this image has no lesion">no lesion</span>}
          <span className="chip" data-testid="review-mode">{mode}</span>
          <span className="muted small review-help">{modeHelp[mode]}</span>
        </div>
        {error && (
          <div className="error-box review-error" role="alert" data-testid="review-error">
            {error}
            <button type="button" className="link" onClick={() => setError(null)}>dismiss</button>
          </div>
        )}
        {imageError && <div className="error-box review-error" data-testid="review-image-error">Image: {imageError}</div>}
        {mismatchNote && (
          <div className="warning review-error" role="alert" data-testid="review-mismatch">
            ⚠ {mismatchNote} A finding accepted here is exported marked so.
          </div>
        )}
        <ReviewCanvas
          frame={shown ? shown.frame : null}
          voi={voi}
          findings={findings}
          selectedId={selected}
          mode={mode}
          brush={brush}
          paint={paint}
          onSelect={setSelected}
          onEditBox={editBox}
          onDrawBox={addFinding}
          onPainted={() => setPainted((n) => n + 1)}
        />
        <div className="review-statusbar muted small" data-testid="review-status-line">{status}</div>
      </section>
      <aside className="review-detail">
        <h3 className="panel-title">Findings</h3>
        <ol className="review-findings" data-testid="review-findings">
          {findings.map((f, i) => (
            <li key={f.id}>
              <button type="button" data-testid="review-finding" data-finding-id={f.id} data-decision={f.decision} className={f.id === selected ? 'review-finding active' : 'review-finding'} onClick={() => setSelected(f.id)}>
                <span className="review-dot" style={{ background: DECISION_COLOURS[f.decision] }} />
                <span>
                  #{i + 1} {f.source === 'model' ? `score ${f.score?.toFixed(2) ?? '?'}` : 'added'}
                  {f.mask ? <span data-testid="review-finding-mask">{f.maskBy === 'reader' ? (f.reviewer === reviewer ? ' · your mask' : ' · reader’s mask') : ' · mask'}</span> : ''}
                </span>
                <span className="review-decision">{f.decision}{f.reviewer ? ` · ${f.reviewer}` : ''}</span>
              </button>
            </li>
          ))}
          {view && findings.length === 0 && <li className="muted">No findings on this image. Press N if it has no lesion, B or M to add one the model missed.</li>}
        </ol>
        {current && (
          <div className="review-current muted small" data-testid="review-current">
            Box [{current.box.map((v) => Math.round(v)).join(', ')}]{current.model ? ` · ${current.model}` : ''}
          </div>
        )}
        <label className="field">
          <span>Note {current && current.reviewer !== reviewer ? '(goes with your next decision)' : '(Ctrl+Enter saves)'}</span>
          <textarea data-testid="review-note" rows={3} value={note} maxLength={10_000} onChange={(e) => setNote(e.target.value)} onBlur={saveNote} />
        </label>
        <div className="row review-buttons">
          <button type="button" disabled={!current} onClick={() => decide('accepted')}>Accept (A)</button>
          <button type="button" disabled={!current} onClick={() => decide('rejected')}>Reject (R)</button>
          <button type="button" data-testid="review-no-lesion-button" disabled={!view} title="No lesion on this image (N): rejects the findings you have not decided; Ctrl+Z takes it back" onClick={noLesion}>No lesion (N)</button>
          <button type="button" disabled={!view} onClick={toggleFlag}>{view?.flagged ? 'Unflag (F)' : 'Flag (F)'}</button>
          <button type="button" onClick={undo}>Undo (Ctrl+Z)</button>
        </div>
        <div className="row review-buttons">
          <button type="button" disabled={!current} className={mode === 'edit' ? 'primary' : ''} onClick={() => setMode(mode === 'edit' ? 'review' : 'edit')}>Edit (E)</button>
          <button type="button" disabled={!loaded} className={mode === 'box' ? 'primary' : ''} onClick={() => setMode(mode === 'box' ? 'review' : 'box')}>Box (B)</button>
          <button type="button" data-testid="review-mask-button" disabled={!shown} className={mode === 'mask' ? 'primary' : ''} title={current ? 'Paint your outline of the selected finding (it is accepted with it); a stroke away from its box adds a lesion' : 'Paint a lesion the model missed'} onClick={() => (mode === 'mask' ? commitMask() : enterMask())}>{mode === 'mask' ? 'Save mask' : 'Mask (M)'}</button>
        </div>
      </aside>
    </div>
  );
}

/** Findings on a worklist image, decided or not. */
function findingCount(item: WorklistItem): number {
  return item.pending + item.accepted + item.rejected + item.edited + item.added;
}

/** Where a worklist image stands: findings to decide, waiting for a reader (no finding, nobody said "no lesion"), no lesion, or done. */
function ItemState({ item }: { item: WorklistItem }) {
  if (item.pending > 0) return <b>{item.pending} pending</b>;
  if (!isReviewed(item)) return <b title="No finding here, and no reader has confirmed it has no lesion: press N if it has none">waiting for a reader</b>;
  if (item.noLesion) return <span className="muted">no lesion</span>;
  return <span className="muted">done</span>;
}

export { ReviewPanel };
