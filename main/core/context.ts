/** What every domain's handlers are built from: settings, the event hub, and the open images. */
import type { FramePixels, ImageSummary } from '../../preload/contract.ts';
import type { Settings } from '../settings.ts';
import type { EventHub } from './events.ts';

/** The open images of this session, as the detector and batch code need them. */
export interface ImageProvider {
  summary(id: string): ImageSummary;
  frame(id: string, frame: number): Promise<FramePixels>;
}

export interface ServiceContext {
  settings: Settings;
  events: EventHub;
  shell: 'electron' | 'browser';
  version: string;
  images: ImageProvider;
  log(line: string): void;
}
