// Runs trueos/sysadm's tests/sendwebsocket.js (copied unchanged, see NOTICE)
// against a test server, loaded with `node -r ./run-reference-client.js`:
// - `require('ws')` gives the module SYSADMD_WS_MODULE names ('ws' is ws 8.x,
//   'ws1' is ws 1.x), so one copy of the script runs under both;
// - the script's fixed address wss://127.0.0.1:12150 becomes SYSADMD_URL,
//   because tests never bind fixed ports.
'use strict';
const Module = require('module');

const url = process.env.SYSADMD_URL;
if (!url) {
  throw new Error('SYSADMD_URL is not set');
}
const RealWebSocket = require(process.env.SYSADMD_WS_MODULE || 'ws');

function RedirectedWebSocket(address, ...rest) {
  const target = address === 'wss://127.0.0.1:12150' ? url : address;
  return new RealWebSocket(target, ...rest);
}

const load = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'ws') {
    return RedirectedWebSocket;
  }
  return load.call(this, request, parent, isMain);
};
