/**
 * The one labelling of 8-connected regions in a row-major grid: the detector's findings (cells of a lesion
 * map at or above a threshold), evaluation's lesions and predicted boxes, and the training plan's lesion
 * counts all read their regions from here. Row runs joined by union–find: one pass over the values, however
 * large the regions (no flood-fill stack), which a thousand masks need.
 */

export interface Region {
  /** The region's cells (raster indices, ascending); only when asked for. */
  cells?: number[];
  area: number;
  /** [x0, y0, x1, y1], x1/y1 exclusive. */
  box: [number, number, number, number];
  /** The highest value in the region. */
  peak: number;
  /** Sums of the cells' x and y, for centroids. */
  sumX: number;
  sumY: number;
}

/**
 * The 8-connected regions of the cells whose value `inside` accepts, in the raster order of their first
 * cell (the order a row-by-row flood fill meets them). `cells: true` lists each region's cells.
 */
export function regions8(values: ArrayLike<number>, width: number, height: number, inside: (v: number) => boolean, options: { cells?: boolean } = {}): Region[] {
  if (values.length !== width * height) throw new Error(`map has ${values.length} values, expected ${width}×${height}`);
  const parent: number[] = [];
  const root = (a: number): number => {
    while (parent[a] !== a) a = parent[a] = parent[parent[a]];
    return a;
  };
  // Every run: its row, x0, x1 (inclusive), label. Runs of the row above, as indices into `runs`.
  const runs: number[] = [];
  let above: number[] = [];
  for (let y = 0; y < height; y++) {
    const row = y * width;
    const here: number[] = [];
    let k = 0;
    for (let x = 0; x < width; x++) {
      if (!inside(values[row + x])) continue;
      const x0 = x;
      while (x + 1 < width && inside(values[row + x + 1])) x++;
      const label = parent.length;
      parent.push(label);
      // A run above touching [x0 - 1, x + 1] (diagonals included) is the same region.
      while (k < above.length && runs[above[k] + 2] < x0 - 1) k++;
      for (let j = k; j < above.length && runs[above[j] + 1] <= x + 1; j++) {
        const a = root(label);
        const b = root(runs[above[j] + 3]);
        // The older label stays the root, so a region's root is its first run's.
        if (a !== b) parent[Math.max(a, b)] = Math.min(a, b);
      }
      here.push(runs.length);
      runs.push(y, x0, x, label);
    }
    above = here;
  }
  const byRoot = new Map<number, Region>();
  const out: Region[] = [];
  for (let r = 0; r < runs.length; r += 4) {
    const y = runs[r];
    const x0 = runs[r + 1];
    const x1 = runs[r + 2];
    const id = root(runs[r + 3]);
    let region = byRoot.get(id);
    if (!region) {
      region = { area: 0, box: [x0, y, x1 + 1, y + 1], peak: -Infinity, sumX: 0, sumY: 0, ...(options.cells ? { cells: [] } : {}) };
      byRoot.set(id, region);
      // Roots are first runs, met in raster order: regions come out in the order of their first cell.
      out.push(region);
    }
    const n = x1 - x0 + 1;
    region.area += n;
    region.sumX += ((x0 + x1) * n) / 2;
    region.sumY += y * n;
    const b = region.box;
    if (x0 < b[0]) b[0] = x0;
    if (x1 + 1 > b[2]) b[2] = x1 + 1;
    if (y + 1 > b[3]) b[3] = y + 1;
    for (let x = x0; x <= x1; x++) {
      const v = values[y * width + x];
      if (v > region.peak) region.peak = v;
      region.cells?.push(y * width + x);
    }
  }
  // Cells were appended run by run in raster order: each region's list is already ascending.
  return out;
}
