export declare const testFileExtensions: string[];
export declare const plugin: () => Record<string, never>;
