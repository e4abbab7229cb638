/**
 * A training run's progress on the terminal, for `studio train` and `studio adapt`: one bar per epoch
 * (main/cli/progress.ts), the trainer's log lines between them, and what the run is doing between epochs.
 */
import type { TrainingProgress } from '../../preload/contract.ts';
import { ProgressBar } from './progress.ts';

export interface TerminalHooks {
  progress(p: Omit<TrainingProgress, 'runId'>): void;
  log(line: string): void;
  gate(): Promise<'go' | 'cancel'>;
}

export function terminalTrainingHooks(stream: NodeJS.WriteStream = process.stderr): TerminalHooks {
  let bar: ProgressBar | undefined;
  let barEpoch = -1;
  // The epoch whose summary `log` printed: its closing progress event repeats it, and must not open a new bar.
  let loggedEpoch = -1;
  return {
    progress(p) {
      if (p.state !== 'running' || p.step === 0 || p.message) {
        if (p.message && p.step === 0) stream.write(`${p.message}\n`);
        return;
      }
      if (p.epoch === loggedEpoch) return;
      if (p.epoch !== barEpoch) {
        bar?.finish();
        barEpoch = p.epoch;
        bar = new ProgressBar(`epoch ${p.epoch}/${p.epochs}`, p.steps, 'step', stream);
      }
      bar?.tick(p.step, `loss ${p.loss.toFixed(4)} ${p.imagesPerSec.toFixed(1)} img/s`);
    },
    gate: async () => 'go',
    log(line) {
      bar?.finish();
      bar = undefined;
      if (barEpoch !== -1) loggedEpoch = barEpoch;
      barEpoch = -1;
      stream.write(`${line}\n`);
    },
  };
}
