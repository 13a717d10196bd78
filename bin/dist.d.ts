export declare const BUILD_STAMP: string;
export declare function builtMain(root?: URL): URL | null;
