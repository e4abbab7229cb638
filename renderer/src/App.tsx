/**
 * The studio's shell: a title bar with the tabs. The viewer is always mounted; the other panels load
 * their code on first use and then stay mounted, so switching tabs never loses their state.
 */
import { Component, type ReactNode, Suspense, lazy, useEffect, useState } from 'react';
import type { Response, StudioApi } from '../../preload/contract.ts';
import { ViewerPanel } from './viewer/ViewerPanel.tsx';

const ReviewPanel = lazy(() => import('./review/ReviewPanel.tsx').then((m) => ({ default: m.ReviewPanel })));
const TrainingPanel = lazy(() => import('./training/TrainingPanel.tsx').then((m) => ({ default: m.TrainingPanel })));
const ComparePanel = lazy(() => import('./compare/ComparePanel.tsx').then((m) => ({ default: m.ComparePanel })));

const TABS = [
  { id: 'viewer', label: 'Viewer' },
  { id: 'review', label: 'Review' },
  { id: 'training', label: 'Training' },
  { id: 'compare', label: 'Compare' },
] as const;
type TabId = (typeof TABS)[number]['id'];

/** One panel's failure must not take the viewer down with it. */
class PanelBoundary extends Component<{ name: string; children: ReactNode }, { error: Error | null }> {
  override state = { error: null as Error | null };
  static getDerivedStateFromError(error: Error) {
    return { error };
  }
  override render() {
    if (this.state.error) {
      return (
        <div className="panel-error" role="alert">
          <h2>The {this.props.name} panel failed</h2>
          <pre>{this.state.error.message}</pre>
          <button type="button" onClick={() => this.setState({ error: null })}>
            Try again
          </button>
        </div>
      );
    }
    return this.props.children;
  }
}

export function App({ api }: { api: StudioApi }) {
  const [tab, setTab] = useState<TabId>('viewer');
  const [mounted, setMounted] = useState<Set<TabId>>(() => new Set(['viewer']));
  const [info, setInfo] = useState<Response<'app.info'> | null>(null);

  useEffect(() => {
    api['app.info']({}).then(setInfo, () => setInfo(null));
  }, [api]);

  const select = (id: TabId) => {
    setTab(id);
    setMounted((m) => (m.has(id) ? m : new Set(m).add(id)));
  };

  const panel = (id: TabId, node: ReactNode, name: string) =>
    mounted.has(id) ? (
      <section className="tab-panel" hidden={tab !== id} aria-label={name} data-tab={id}>
        <PanelBoundary name={name}>
          <Suspense fallback={<div className="panel-loading">Loading {name}…</div>}>{node}</Suspense>
        </PanelBoundary>
      </section>
    ) : null;

  return (
    <div className="app">
      <header className="titlebar">
        <div className="brand" title={info ? `Attention Studio ${info.version}` : 'Attention Studio'}>
          <span className="brand-mark" aria-hidden="true" />
          Attention Studio
        </div>
        <nav className="tabs" role="tablist">
          {TABS.map((t) => (
            <button key={t.id} type="button" role="tab" aria-selected={tab === t.id} className={tab === t.id ? 'tab active' : 'tab'} onClick={() => select(t.id)}>
              {t.label}
            </button>
          ))}
        </nav>
        <div className="titlebar-status">
          {info && (
            <>
              <span className="chip">{info.shell === 'electron' ? 'desktop' : 'browser host'}</span>
              {info.backend && <span className="chip" title={info.backend.notes.join('\n')}>{info.backend.backend}{info.backend.gpu ? ' · GPU' : ''}</span>}
              <span className="muted">v{info.version}</span>
            </>
          )}
        </div>
      </header>
      <main className="tab-panels">
        {panel('viewer', <ViewerPanel api={api} active={tab === 'viewer'} shell={info?.shell ?? (window.studioBridge ? 'electron' : 'browser')} />, 'Viewer')}
        {panel('review', <ReviewPanel api={api} />, 'Review')}
        {panel('training', <TrainingPanel api={api} reviewStore={info?.reviewStore} />, 'Training')}
        {panel('compare', <ComparePanel api={api} />, 'Compare')}
      </main>
    </div>
  );
}
