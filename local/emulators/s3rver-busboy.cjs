// s3rver's busboy, loaded at s3rver's first form upload instead of with s3rver: busboy 0.3
// evaluates 500 KB of legacy text-encoding tables as it loads, at every start of the CLI's
// bundle, and sluice serves POST Object itself (s3-post-object.ts). The CLI's bundle puts this
// in busboy's place for s3rver only.
const { createRequire } = require('node:module');

module.exports = function Busboy(options) {
  const S3rverBusboy = createRequire(require.resolve('s3rver'))('busboy');
  return new S3rverBusboy(options);
};
