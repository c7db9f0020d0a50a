// Stands in for an optional native module that the bundled package does without (see scripts/build-package.ts).
module.exports = {}
