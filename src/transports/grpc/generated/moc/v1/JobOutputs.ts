// Original file: proto/moc.proto


export interface JobOutputs {
  /**
   * Files it wrote, relative to the models root.
   */
  'files'?: (string)[];
  'metrics'?: ({[key: string]: number | string});
  /**
   * Models it registered in the catalog.
   */
  'models'?: (string)[];
}

export interface JobOutputs__Output {
  /**
   * Files it wrote, relative to the models root.
   */
  'files': (string)[];
  'metrics': ({[key: string]: number});
  /**
   * Models it registered in the catalog.
   */
  'models': (string)[];
}
