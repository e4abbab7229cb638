/**
 * DICOM Comprehensive SR (TID 1500 Imaging Measurement Report) of the confirmed findings on one DICOM
 * source image, written with dcmjs. Each finding is a TID 1410 planar ROI measurement group: tracking
 * identifiers, the finding code, an image-region SCOORD (closed POLYLINE of the box, in the image's pixel
 * coordinates: 0\0 is the top-left corner of the top-left pixel, as DICOM defines it) selected from the
 * source image, and its area. The review decision, reviewer, note and model score ride along as TEXT/NUM
 * items under the private coding scheme 99ATTSTUDIO. The patient and study modules are copied from the
 * source file when it is readable, so the SR files into the source's study.
 *
 * A finding proposed by a model run on an image not of its kind (`studio analyze --force`) is still reported
 * when a reviewer confirmed it (the reader's decision is theirs to keep), but never as a bare "Lesion": its
 * group carries a Comment (DCM 121106) right after the finding code saying the detector was not for this
 * image, with why.
 */
import { readFileSync } from 'node:fs';
import dcmjs from 'dcmjs';
import type { ReviewRow } from '../review/store.ts';
import { isPositive } from '../datasets/review.ts';

const COMPREHENSIVE_SR = '1.2.840.10008.5.1.4.1.1.88.33';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
const M = dcmjs.data.DicomMetaDictionary;

type Item = Record<string, unknown>;
const code = (value: string, scheme: string, meaning: string) => ({ CodeValue: value, CodingSchemeDesignator: scheme, CodeMeaning: meaning });
const named = (rel: string, type: string, concept: ReturnType<typeof code>, rest: Item = {}): Item => ({ RelationshipType: rel, ValueType: type, ConceptNameCodeSequence: [concept], ...rest });
/** Half of a surrogate pair with no other half: no encoding can write it, so it becomes U+FFFD here, knowingly. */
const wellFormed = (value: string) => value.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');

/**
 * Text as DICOM lets it stand in a Text Value (UT): control characters other than TAB, LF, FF, CR and ESC are
 * invalid there, and a lone surrogate would turn into U+FFFD without a word. Reviewers' notes and names are
 * typed by people, and a store is a file anyone can edit; dciodvfy refused an SR whose note held a BEL.
 */
export function dicomText(value: string): string {
  // eslint-disable-next-line no-control-regex
  return wellFormed(value).replace(/[\u0000-\u0008\u000b\u000e-\u001a\u001c-\u001f\u007f]/g, '');
}

/**
 * A Person Name (PN) component group: no control characters at all, none of PN's own separators (\\ ^ =),
 * and at most 64 bytes of UTF-8 (the limit counts bytes: twelve CJK characters are 36), cut between
 * characters.
 */
export function dicomPersonName(value: string): string {
  // eslint-disable-next-line no-control-regex
  let name = wellFormed(value).replace(/[\u0000-\u001f\u007f]/g, '').replace(/[\\^=]/g, ' ');
  const encoder = new TextEncoder();
  while (encoder.encode(name).byteLength > 64) name = [...name].slice(0, -1).join('');
  return name;
}

/** A Decimal String value: at most 16 characters, the most significant digits that fit (DS allows exponents). */
export function dicomDecimal(value: number): number {
  for (let digits = 12; digits > 1; digits--) {
    const v = Number(value.toPrecision(digits));
    if (String(v).length <= 16) return v;
  }
  return Number(value.toPrecision(1));
}

const text = (rel: string, concept: ReturnType<typeof code>, value: string) => named(rel, 'TEXT', concept, { TextValue: dicomText(value).slice(0, 10_000) });
const num = (concept: ReturnType<typeof code>, value: number, unit: ReturnType<typeof code>) =>
  named('CONTAINS', 'NUM', concept, { MeasuredValueSequence: [{ NumericValue: dicomDecimal(value), MeasurementUnitsCodeSequence: [unit] }] });

const STUDIO = (value: string, meaning: string) => code(value, '99ATTSTUDIO', meaning);

/** What the source image tells us: its UIDs and the patient/study attributes the SR must share. */
export interface SourceInfo {
  study: string;
  series: string;
  sop: string;
  sopClass: string;
  /** Patient and general study attributes copied into the SR (naturalized dcmjs values). */
  copy: Item;
}

const COPIED = ['PatientName', 'PatientID', 'PatientBirthDate', 'PatientSex', 'StudyDate', 'StudyTime', 'ReferringPhysicianName', 'StudyID', 'AccessionNumber', 'StudyDescription'];

/** Reads the source file's header; falls back to the UIDs in the store when the file is gone. Null: not DICOM. */
export function sourceInfo(image: ReviewRow['image']): SourceInfo | null {
  let header: Item | undefined;
  try {
    const bytes = readFileSync(image.path);
    if (bytes.length > 132 && bytes.toString('latin1', 128, 132) === 'DICM') {
      const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      header = M.naturalizeDataset(dcmjs.data.DicomMessage.readFile(ab, { untilTag: '7FE00010', includeUntilTagValue: false }).dict);
    }
  } catch {
    header = undefined;
  }
  const study = (header?.StudyInstanceUID as string | undefined) ?? image.uids.study;
  const series = (header?.SeriesInstanceUID as string | undefined) ?? image.uids.series;
  const sop = (header?.SOPInstanceUID as string | undefined) ?? image.uids.sop;
  if (!study || !series || !sop) return null;
  const copy: Item = {};
  for (const key of COPIED) if (header && header[key] !== undefined) copy[key] = header[key];
  return { study, series, sop, sopClass: (header?.SOPClassUID as string | undefined) ?? image.uids.sopClass ?? SECONDARY_CAPTURE, copy };
}

export interface SrOptions {
  seriesUid: string;
  instanceNumber: number;
  version: string;
}

/** The Comment a mismatched finding's measurement group carries. */
export function mismatchComment(mismatch: string): string {
  // Either what the image declared or the model's own appearance score said so; the text says which.
  return `Detector not made for this image: ${mismatch}`;
}

/** The SR dataset for one image's rows, or null when no confirmed finding is on it. `mismatched`: how many of its findings carry a mismatch Comment. */
export function buildSr(image: ReviewRow['image'], rows: ReviewRow[], source: SourceInfo, options: SrOptions): { dataset: Item; sopInstanceUid: string; findings: number; mismatched: number } | null {
  const positives = rows.filter(isPositive);
  if (positives.length === 0) return null;
  const imageRef = { ReferencedSOPSequence: [{ ReferencedSOPClassUID: source.sopClass, ReferencedSOPInstanceUID: source.sop }] };
  const reviewers = [...new Set(rows.flatMap((r) => r.decisions.map((d) => d.reviewer)))];

  const groups = positives.map((row) => {
    const [x0, y0, x1, y1] = row.effective.box;
    const items: Item[] = [
      text('HAS OBS CONTEXT', code('112039', 'DCM', 'Tracking Identifier'), `finding-${row.finding.id}`),
      named('HAS OBS CONTEXT', 'UIDREF', code('112040', 'DCM', 'Tracking Unique Identifier'), { UID: M.uid() }),
      named('CONTAINS', 'CODE', code('121071', 'DCM', 'Finding'), { ConceptCodeSequence: [code('52988006', 'SCT', 'Lesion')] }),
      ...(row.finding.mismatch ? [text('CONTAINS', code('121106', 'DCM', 'Comment'), mismatchComment(row.finding.mismatch))] : []),
      named('CONTAINS', 'SCOORD', code('111030', 'DCM', 'Image Region'), {
        GraphicType: 'POLYLINE',
        GraphicData: [x0, y0, x1, y0, x1, y1, x0, y1, x0, y0],
        ContentSequence: [{ RelationshipType: 'SELECTED FROM', ValueType: 'IMAGE', ...imageRef }],
      }),
      num(code('42798000', 'SCT', 'Area'), (x1 - x0) * (y1 - y0), code('{pixels}', 'UCUM', 'pixels')),
      text('CONTAINS', STUDIO('decision', 'Review decision'), row.effective.decision),
    ];
    if (row.effective.reviewer) items.push(text('CONTAINS', STUDIO('reviewer', 'Reviewer'), row.effective.reviewer));
    if (row.effective.note) items.push(text('CONTAINS', STUDIO('note', 'Reviewer note'), row.effective.note));
    if (row.finding.model) items.push(text('CONTAINS', STUDIO('model', 'Detector model'), row.finding.model));
    if (row.finding.score !== undefined) items.push(num(STUDIO('score', 'Detector score'), row.finding.score, code('1', 'UCUM', 'no units')));
    return named('CONTAINS', 'CONTAINER', code('125007', 'DCM', 'Measurement Group'), {
      ContinuityOfContent: 'SEPARATE',
      ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1410' }],
      ContentSequence: items,
    });
  });

  const observers: Item[] = reviewers.flatMap((name) => [
    named('HAS OBS CONTEXT', 'CODE', code('121005', 'DCM', 'Observer Type'), { ConceptCodeSequence: [code('121006', 'DCM', 'Person')] }),
    named('HAS OBS CONTEXT', 'PNAME', code('121008', 'DCM', 'Person Observer Name'), { PersonName: dicomPersonName(name) }),
  ]);

  const date = M.date();
  const time = M.time();
  const sopInstanceUid = M.uid();
  const dataset: Item = {
    _meta: { TransferSyntaxUID: { Value: [EXPLICIT_LE] } },
    SOPClassUID: COMPREHENSIVE_SR,
    SOPInstanceUID: sopInstanceUid,
    Modality: 'SR',
    // Patient and study: from the source, or empty where the source gave nothing (type 2 attributes).
    PatientName: '',
    PatientID: '',
    PatientBirthDate: '',
    PatientSex: '',
    StudyDate: '',
    StudyTime: '',
    ReferringPhysicianName: '',
    StudyID: '',
    AccessionNumber: '',
    ...source.copy,
    StudyInstanceUID: source.study,
    SeriesInstanceUID: options.seriesUid,
    SeriesNumber: 9100,
    SeriesDescription: 'Attention Studio review',
    ReferencedPerformedProcedureStepSequence: [],
    InstanceNumber: options.instanceNumber,
    Manufacturer: 'Attention Studio',
    SoftwareVersions: options.version,
    InstanceCreationDate: date,
    InstanceCreationTime: time,
    ContentDate: date,
    ContentTime: time,
    CompletionFlag: rows.some((r) => r.effective.decision === 'pending') ? 'PARTIAL' : 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    PerformedProcedureCodeSequence: [],
    CurrentRequestedProcedureEvidenceSequence: [
      { StudyInstanceUID: source.study, ReferencedSeriesSequence: [{ SeriesInstanceUID: source.series, ReferencedSOPSequence: [{ ReferencedSOPClassUID: source.sopClass, ReferencedSOPInstanceUID: source.sop }] }] },
    ],
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [code('126000', 'DCM', 'Imaging Measurement Report')],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    ContentSequence: [
      named('HAS CONCEPT MOD', 'CODE', code('121049', 'DCM', 'Language of Content Item and Descendants'), { ConceptCodeSequence: [code('en-US', 'RFC5646', 'English (United States)')] }),
      ...observers,
      named('HAS CONCEPT MOD', 'CODE', code('121058', 'DCM', 'Procedure reported'), { ConceptCodeSequence: [code('363679005', 'SCT', 'Imaging')] }),
      named('CONTAINS', 'CONTAINER', code('111028', 'DCM', 'Image Library'), {
        ContinuityOfContent: 'SEPARATE',
        ContentSequence: [
          named('CONTAINS', 'CONTAINER', code('126200', 'DCM', 'Image Library Group'), {
            ContinuityOfContent: 'SEPARATE',
            ContentSequence: [{ RelationshipType: 'CONTAINS', ValueType: 'IMAGE', ...imageRef }],
          }),
        ],
      }),
      named('CONTAINS', 'CONTAINER', code('126010', 'DCM', 'Imaging Measurements'), { ContinuityOfContent: 'SEPARATE', ContentSequence: groups }),
    ],
  };
  // UTF-8 only when needed: DCMTK's VR checker cannot check ISO_IR 192 text and warns about it.
  if (/[^\p{ASCII}]/u.test(JSON.stringify(dataset))) dataset.SpecificCharacterSet = 'ISO_IR 192';
  return { dataset, sopInstanceUid, findings: positives.length, mismatched: positives.filter((r) => r.finding.mismatch).length };
}

export function writeSr(dataset: Item): Buffer {
  return dcmjs.data.datasetToBuffer(dataset);
}
