/**
 * Builds the contract's handlers from the domain services. The Electron shell and the browser host both
 * call `createServices` and put its `dispatch` behind their transport, so they serve the same contract.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Handlers } from '../../preload/contract.ts';
import { createDetectorHandlers } from '../detector/handlers.ts';
import { createBatchHandlers } from '../batch/handlers.ts';
import { createImagingHandlers } from '../imaging/handlers.ts';
import { createReviewHandlers } from '../review/handlers.ts';
import { defaultStorePath } from '../review/store.ts';
import { createTrainingHandlers } from '../training/handlers.ts';
import { createEvaluationHandlers } from '../evaluation/handlers.ts';
import { PROJECT_ROOT, loadSettings, type Settings } from '../settings.ts';
import type { ServiceContext } from '../core/context.ts';
import { type Dispatch, createDispatch } from './dispatch.ts';
import { EventHub } from '../core/events.ts';
import { unavailable } from './unavailable.ts';

export interface Services {
  dispatch: Dispatch;
  events: EventHub;
  context: ServiceContext;
  close(): Promise<void>;
}

export function studioVersion(): string {
  return (JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

export interface ServiceOptions {
  shell: 'electron' | 'browser';
  settings?: Settings;
  log?: (line: string) => void;
  /** The shell's native open dialog, where it has one. */
  dialog?: Handlers['dialog.open'];
}

export function createServices(options: ServiceOptions): Services {
  const events = new EventHub();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const imaging = createImagingHandlers({ log });
  const context: ServiceContext = {
    settings: options.settings ?? loadSettings(),
    events,
    shell: options.shell,
    version: studioVersion(),
    images: imaging.provider,
    log,
  };
  const detector = createDetectorHandlers(context);
  const training = createTrainingHandlers(context);
  const evaluation = createEvaluationHandlers(context);
  const review = createReviewHandlers(context);
  const batch = createBatchHandlers(context);
  const handlers: Handlers = {
    'app.info': async () => ({ version: context.version, shell: context.shell, dataDir: context.settings.dataDir, reviewStore: defaultStorePath(context.settings), backend: await detector.backendReport().catch(() => null) }),
    'app.doctor': () => detector.backendReport(),
    'dialog.open': options.dialog ?? unavailable('the native file dialog'),
    ...imaging.handlers,
    ...detector.handlers,
    ...training.handlers,
    ...evaluation.handlers,
    ...review.handlers,
    ...batch.handlers,
  };
  return {
    dispatch: createDispatch(handlers, log),
    events,
    context,
    async close() {
      await Promise.allSettled([detector.close(), training.close(), evaluation.close(), review.close(), batch.close(), imaging.close()]);
    },
  };
}
