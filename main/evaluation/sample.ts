/**
 * One dataset sample by the id an evaluation report gives it: where its image is, and its ground-truth
 * mask at the image's own size, so Compare can open the image side by side with the truth outlined.
 */
import { type DatasetSample, StudioError } from '../../preload/contract.ts';
import { rleEncode } from '../../preload/mask-rle.ts';
import { openDataset, truthMask, type DatasetFormat } from '../datasets/index.ts';

export async function datasetSample(data: string, id: string, format: DatasetFormat = 'masks'): Promise<DatasetSample> {
  const dataset = await openDataset(data, format);
  // Looked up among the dataset's own samples: an id can name no file outside it.
  const sample = dataset.samples.find((s) => s.id === id);
  if (!sample) throw new StudioError('NOT_FOUND', `no sample '${id}' in ${data}`, id);
  const mask = await truthMask(sample);
  return { id, path: sample.image, truth: rleEncode(mask.data, mask.width, mask.height) };
}
