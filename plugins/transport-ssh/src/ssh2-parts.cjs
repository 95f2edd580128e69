'use strict';
// The two parts of ssh2 this transport uses, required by their own paths. ssh2's index also loads
// its server, key generator and HTTP agents (node:http, https and tls), none of which a client
// needs; and an ES `import` of a CommonJS file has node scan all of that file for export names
// (client.js: ~10 ms, more than loading it), so the ES code imports this small file instead.
// ssh2 has no `exports` map: these paths are reachable. Bundlers follow these requires as usual.
module.exports = {
  Client: require('ssh2/lib/client.js'),
  parseKey: require('ssh2/lib/protocol/keyParser.js').parseKey,
};
