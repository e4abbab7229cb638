/**
 * The display pipeline (modality LUT, VOI window or VOI LUT, MONOCHROME1, palette colour, YBR, 16-bit RGB)
 * against DCMTK's renderer: dcm2pnm writes the same frame as an 8-bit PNG, with the file's first window
 * (+Wi 1), its VOI LUT (+Wl 1) or, where the file has no window, the window the studio computed (+Ww).
 * Segmented palettes, which DCMTK cannot read, are linearised by GDCM (gdcmconv --decompress-lut) first.
 */
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import sharp from 'sharp';
import { loadImageFile, toRGB8 } from '../../main/imaging/index.ts';
import { referenceData } from '../../main/settings.ts';

const data = referenceData('dicom');
const REQUIRED_TOOLS = ['dcm2pnm', 'gdcmconv'];
const missingTools = REQUIRED_TOOLS.filter((tool) => spawnSync(tool, ['--version']).error);
const skip = 'skip' in data ? data.skip : missingTools.length ? `reference decoders missing (${missingTools.join(', ')}): apt-get install dcmtk libgdcm-tools` : false;
const P = 'pydicom/src/pydicom/data/test_files/';
const D = 'pydicom-data/data_store/data/';

const CASES: { file: string; voi?: 'file-window' | 'voi-lut' | 'computed'; segmented?: boolean }[] = [
  { file: `${P}CT_small.dcm`, voi: 'computed' },
  { file: `${P}MR_small.dcm`, voi: 'file-window' },
  { file: `${D}mlut_18.dcm`, voi: 'computed' },
  { file: `${D}vlut_04.dcm`, voi: 'voi-lut' },
  { file: `${P}dicomdirtests/77654033/CR2/6247`, voi: 'file-window' },
  { file: `${P}dicomdirtests/77654033/CR1/6154`, voi: 'file-window' },
  { file: `${D}emri_small.dcm`, voi: 'computed' },
  { file: `${D}693_UNCR.dcm`, voi: 'file-window' },
  { file: `${D}OBXXXX1A.dcm` },
  { file: `${D}OT-PAL-8-face.dcm` },
  { file: `${D}gdcm-US-ALOKA-16.dcm`, segmented: true },
  { file: `${D}gdcm-US-ALOKA-16_big.dcm`, segmented: true },
  { file: `${P}examples_palette.dcm` },
  { file: `${D}SC_ybr_full_uncompressed.dcm` },
  { file: `${P}SC_ybr_full_422_uncompressed.dcm` },
  { file: `${D}color-pl.dcm` },
  { file: `${D}SC_rgb_16bit.dcm` },
];

const dcm2pnm = (args: string[]) => tool('dcm2pnm', args);

function tool(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => execFile(cmd, args, { timeout: 60_000 }, (err, _o, stderr) => (err ? reject(new Error(stderr.toString().trim() || err.message)) : resolve())));
}

test('rendered frames match DCMTK dcm2pnm (window, VOI LUT, MONOCHROME1, palette, YBR)', { skip, timeout: 300_000 }, async (t) => {
  if ('skip' in data) return;
  const dir = await mkdtemp(join(tmpdir(), 'studio-render-'));
  const problems: string[] = [];
  try {
    for (const [i, c] of CASES.entries()) {
      const file = join(data.dir, c.file);
      const image = await loadImageFile(file);
      const frame = await image.frame(0);
      const out = join(dir, `${i}.png`);
      let mine;
      if (frame.channels === 3) {
        // DCMTK cannot read segmented palettes: GDCM linearises them first.
        const input = c.segmented ? join(dir, `${i}.dcm`) : file;
        if (c.segmented) await tool('gdcmconv', ['--decompress-lut', file, input]);
        await dcm2pnm(['+on', input, out]);
        mine = toRGB8(frame);
      } else if (c.voi === 'voi-lut') {
        assert.ok(frame.voiLut, `${c.file} should carry a VOI LUT`);
        await dcm2pnm(['+on', '+Wl', '1', file, out]);
        mine = toRGB8(frame, 'voi-lut');
      } else if (c.voi === 'file-window') {
        await dcm2pnm(['+on', '+Wi', '1', file, out]);
        mine = toRGB8(frame, image.info.windows[0]);
      } else {
        const w = image.info.windows[0];
        await dcm2pnm(['+on', '+Ww', String(w.center), String(w.width), file, out]);
        mine = toRGB8(frame, w);
      }
      const ref = await sharp(out).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      assert.equal(ref.info.width, mine.width, c.file);
      assert.equal(ref.info.height, mine.height, c.file);
      let maxAbs = 0;
      let sum = 0;
      for (let k = 0; k < mine.data.length; k++) {
        const d = Math.abs(mine.data[k] - ref.data[k]);
        sum += d;
        if (d > maxAbs) maxAbs = d;
      }
      const mean = sum / mine.data.length;
      t.diagnostic(`${c.file}: max |difference| ${maxAbs}, mean ${mean.toFixed(3)} (${frame.channels === 3 ? 'colour' : c.voi})`);
      // DCMTK truncates where the studio rounds the window's output, and its integer YCbCr conversion
      // rounds differently: differences of 1 (2 for YBR) are expected.
      const limit = image.info.photometric.startsWith('YBR') ? 2 : 1;
      if (maxAbs > limit || mean > 0.6) problems.push(`${c.file}: max |difference| ${maxAbs}, mean ${mean.toFixed(3)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  assert.deepEqual(problems, []);
});
