/**
 * Datasets: what a sample and a label are (formats.ts, and review.ts for the review store), seeded splits,
 * and decoding for a model. Training, evaluation, Compare and the exports all read data through here.
 */
export { listCocoDataset, listMaskDataset, listNegatives, openDataset, type Dataset, type DatasetFormat, type OpenOptions, type Sample } from './formats.ts';
export { datasetFromReview, isPositive, reviewDataset, reviewedDataset, reviewedImages, type ReviewAnnotationSource, type ReviewedItem, type ReviewRead } from './review.ts';
export { completeSplit, limitSamples, readStoredSplit, rng, shuffle, splitDataset, splitSamples, type Split, type SplitName } from './split.ts';
export { decodeSample, letterbox, SampleCache, truthMask, validRegion, type Decoded, type Letterbox } from './decode.ts';
