/**
 * `npm run bench [topic…]`: runs each bench/<topic>.ts and prints every figure as one JSON line
 * `{"figure", "value", "unit"}` on stdout (progress and notes go to stderr), so results can be diffed and
 * collected by scripts. Topics: decode, detector, runtime, training, review (whichever are present); `adapt`
 * (the site loop on 200 frames, minutes) runs only when named.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

type Report = (figure: string, value: number, unit: string) => void;
interface BenchModule {
  run(report: Report): Promise<void>;
}

const here = dirname(fileURLToPath(import.meta.url));
const ALL = ['decode', 'detector', 'runtime', 'training', 'review'];
const topics = process.argv.slice(2).length ? process.argv.slice(2) : ALL;

let failed = 0;
for (const topic of topics) {
  const file = join(here, `${topic}.ts`);
  if (!existsSync(file)) {
    process.stderr.write(`bench: no bench/${topic}.ts; skipped\n`);
    continue;
  }
  process.stderr.write(`bench: ${topic}\n`);
  const started = performance.now();
  try {
    const mod = (await import(pathToFileURL(file).href)) as BenchModule;
    await mod.run((figure, value, unit) => {
      const rounded = Math.abs(value) >= 100 ? Math.round(value * 10) / 10 : Math.round(value * 1000) / 1000;
      process.stdout.write(`${JSON.stringify({ figure: `${topic}.${figure}`, value: rounded, unit })}\n`);
    });
    process.stderr.write(`bench: ${topic} done in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  } catch (err) {
    failed++;
    process.stderr.write(`bench: ${topic} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
}
process.exitCode = failed ? 1 : 0;
