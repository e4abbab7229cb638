/**
 * Running the detector and Grad-CAM on an image's frame with a model, as the viewer and side by side do:
 * each answer is kept under its image, frame and model (and for a detection, the mirror averaging asked
 * for), with its job state, the few most recent only since every result carries full-size maps.
 */
import { useCallback, useMemo } from 'react';
import type { DetectionResult, FlipSet, GradCamResult, StudioApi } from '../../../preload/contract.ts';
import { type Schedule, immediately, useJobs, useSerial } from './useJobs.ts';

/** What a detection runs on. */
export interface Target {
  imageId: string;
  frame: number;
  model: string;
}

/** A Grad-CAM's key, and a detection's when it runs with the model card's averaging. */
export const resultKey = (t: Target): string => `${t.imageId}:${t.frame}:${t.model}`;

/** A detection's key: the mirror averaging changes the answer (Grad-CAM's does not depend on it). */
export const detectionKey = (t: Target, flips?: FlipSet | 'card'): string => (flips === undefined ? resultKey(t) : `${resultKey(t)}:${flips}`);

export interface DetectionOptions {
  /** How many detections (and Grad-CAMs) to keep. */
  keep: number;
  /** One request at a time (the detector has one worker: queued calls would only wait there). */
  serial?: boolean;
}

export function useDetection(api: StudioApi, { keep, serial = false }: DetectionOptions) {
  const queue = useSerial();
  const schedule: Schedule = serial ? queue : immediately;
  const detections = useJobs<DetectionResult>(keep, schedule);
  const gradcams = useJobs<GradCamResult>(keep, schedule);
  const { run: runDetection } = detections;
  const { run: runGradcam } = gradcams;

  /** Runs the detector; `flips` omitted or 'card' runs the model card's averaging. */
  const detect = useCallback(
    (t: Target, flips?: FlipSet | 'card') => runDetection(detectionKey(t, flips), () => api['detector.run']({ ...t, ...(flips === undefined || flips === 'card' ? {} : { flips }) })),
    [api, runDetection],
  );
  const gradcam = useCallback((t: Target) => runGradcam(resultKey(t), () => api['detector.gradcam'](t)), [api, runGradcam]);
  return useMemo(() => ({ detections, gradcams, detect, gradcam }), [detections, gradcams, detect, gradcam]);
}
