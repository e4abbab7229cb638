/**
 * Review store figures: the cost of a durable (synchronous=FULL) decision commit and of a batch image
 * record, and how the worklist and the exports scale to a 10 000-image store.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../main/review/store.ts';
import { exportStore } from '../main/export/index.ts';
import { quantile } from '../main/core/stats.ts';

const pct = (xs: number[], p: number) => quantile([...xs].sort((a, b) => a - b), p);

export async function run(report: (figure: string, value: number, unit: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-review-'));
  try {
    const file = join(dir, 'bench.sqlite');
    const store = openStore(file);
    const runId = store.beginRun({ model: 'bench', backend: 'cpu' });
    const images = 10_000;
    const recordMs: number[] = [];
    for (let i = 0; i < images; i++) {
      const t = performance.now();
      store.recordImageFindings(runId, { path: `/bench/img${i}.png`, contentHash: (i + 1).toString(16).padStart(64, '0'), width: 512, height: 512 },
        Array.from({ length: 5 }, (_, j) => ({ box: [j * 10, j * 10, j * 10 + 40, j * 10 + 40] as [number, number, number, number], score: 0.1 + j * 0.15, area: 1200 })));
      recordMs.push(performance.now() - t);
    }
    report('record_image_5_findings_median', pct(recordMs, 0.5), 'ms');
    report('record_image_5_findings_p99', pct(recordMs, 0.99), 'ms');

    const decideMs: number[] = [];
    for (let i = 0; i < 2000; i++) {
      const t = performance.now();
      store.decide({ findingId: 1 + ((i * 7919) % (images * 5)), reviewer: i % 2 ? 'a' : 'b', decision: i % 3 ? 'accepted' : 'rejected' });
      decideMs.push(performance.now() - t);
    }
    report('decide_commit_fsync_median', pct(decideMs, 0.5), 'ms');
    report('decide_commit_fsync_p99', pct(decideMs, 0.99), 'ms');
    // For comparison only: what synchronous=NORMAL (WAL without fsync per commit) would save.
    store.sql.pragma('synchronous = NORMAL');
    const normalMs: number[] = [];
    for (let i = 0; i < 500; i++) {
      const t = performance.now();
      store.decide({ findingId: 1 + ((i * 104729) % (images * 5)), reviewer: 'c', decision: 'accepted' });
      normalMs.push(performance.now() - t);
    }
    store.sql.pragma('synchronous = FULL');
    report('decide_commit_normal_median', pct(normalMs, 0.5), 'ms');

    const listMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      store.worklist({ status: 'pending' });
      listMs.push(performance.now() - t);
    }
    report('worklist_10k_images_50k_findings', pct(listMs, 0.5), 'ms');
    const t0 = performance.now();
    store.findings(1234);
    report('findings_one_image', performance.now() - t0, 'ms');
    store.close();

    const t1 = performance.now();
    exportStore(file, 'coco', join(dir, 'coco'));
    report('export_coco_10k_images', performance.now() - t1, 'ms');
    const t2 = performance.now();
    exportStore(file, 'csv', join(dir, 'csv'));
    report('export_csv_50k_findings', performance.now() - t2, 'ms');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
