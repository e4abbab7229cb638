/**
 * The site loop's time budget (issue 24: adapting to ~200 reviewed frames in under 10 minutes on 2 cores):
 * scripts/site-experiment.ts run as a user would (analyse 200 frames the base never trained on into a fresh
 * review store, review them by a reader simulated from the masks, adapt with the contract's defaults), in a
 * child process so its threads and memory are its own. Not in the default topics: it takes minutes.
 * Needs ../shared/data (STUDIO_DATA_DIR) and the shipped model.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../main/settings.ts';

type Report = (figure: string, value: number, unit: string) => void;

const BUDGET_SECONDS = 600;

export async function run(report: Report): Promise<void> {
  const base = process.env.STUDIO_BENCH_ADAPT_BASE ?? 'kvasir-cbam-neg';
  const started = performance.now();
  const child = spawnSync(process.execPath, ['--import', 'tsx', join(PROJECT_ROOT, 'scripts', 'site-experiment.ts'), '--base', base, '--images', '200', '--sequences', '6'], { cwd: PROJECT_ROOT, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (child.status !== 0) throw new Error(`site-experiment exited ${child.status}: ${child.stderr.split('\n').slice(-5).join('\n')}`);
  const lines = child.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const reviewed = lines.find((l) => l.step === 'reviewed') as { analyzeSeconds: number; reviewSeconds: number };
  const adapted = lines.find((l) => l.step === 'adapted') as { adaptSeconds: number; epochsRun: number; base: { dice: number }; adapted: { dice: number } };
  const total = (performance.now() - started) / 1000;
  report(`${base}.analyze_200_frames`, reviewed.analyzeSeconds, 's');
  report(`${base}.adapt_200_frames`, adapted.adaptSeconds, 's');
  report(`${base}.adapt_epochs_run`, adapted.epochsRun, 'epochs');
  report(`${base}.loop_200_frames`, total, 's');
  report(`${base}.loop_200_frames_vs_budget`, total / BUDGET_SECONDS, 'ratio');
  report(`${base}.site_dice_base`, adapted.base.dice, 'Dice');
  report(`${base}.site_dice_adapted`, adapted.adapted.dice, 'Dice');
}
