'use strict';
// A CommonJS entry, as the compiled N-API addon can only be loaded with require().
// eslint-disable-next-line @typescript-eslint/no-require-imports
module.exports = require('./build/Release/blake3_subtree.node');
