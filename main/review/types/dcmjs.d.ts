// dcmjs ships no types: the part of its data API the SR export and its tests use.
declare module 'dcmjs' {
  type Naturalized = Record<string, unknown>;
  interface DicomDictLike {
    dict: Record<string, unknown>;
    meta: Record<string, unknown>;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomMessage: { readFile(buffer: ArrayBuffer, options?: { untilTag?: string; includeUntilTagValue?: boolean; ignoreErrors?: boolean }): DicomDictLike };
      DicomMetaDictionary: {
        naturalizeDataset(dict: Record<string, unknown>): Naturalized;
        denaturalizeDataset(dataset: Naturalized): Record<string, unknown>;
        uid(): string;
        date(): string;
        time(): string;
      };
      datasetToBuffer(dataset: Naturalized): Buffer;
    };
  };
  export default dcmjs;
}
