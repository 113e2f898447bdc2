// ctsync core: the public exports of build/ctsync.wasm (see assembly/README.md).
export const ABI_VERSION: u32 = 1;
