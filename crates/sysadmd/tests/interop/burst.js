// Pipelining as the reference's clients do it, with node `ws` (8.x as 'ws' or
// 1.x as 'ws1', chosen by SYSADMD_WS_MODULE): each round sends, without
// waiting, unsubscribe + auth_clear + auth + subscribe + a change, and must
// get the change's reply and its `running` event.
// Usage: node burst.js URL USER PASSWORD ROUNDS. Prints "ok ROUNDS" or exits 1.
'use strict';
const moduleName = process.env.SYSADMD_WS_MODULE || 'ws';
const WebSocket = require(moduleName);
const jail = `burst-${moduleName}`;

const [url, user, password, roundsText] = process.argv.slice(2);
const rounds = Number(roundsText);
const socket = new WebSocket(url);
const send = (message) => socket.send(JSON.stringify(message));
const login = { namespace: 'rpc', name: 'auth', id: 'login', args: { username: user, password } };

let round = -1;
let action = '';
let replied = false;
let running = false;

function fail(why) {
  console.error(`round ${round}: ${why}`);
  process.exit(1);
}

function next() {
  round += 1;
  if (round === rounds) {
    console.log(`ok ${rounds}`);
    socket.close();
    return;
  }
  action = round % 2 === 0 ? 'startjail' : 'stopjail';
  replied = false;
  running = false;
  send({ namespace: 'events', name: 'unsubscribe', id: 'unsub', args: 'dispatcher' });
  send({ namespace: 'rpc', name: 'auth_clear', id: 'clear', args: {} });
  send(login);
  send({ namespace: 'events', name: 'subscribe', id: 'sub', args: ['dispatcher', 'life-preserver', 'system-state'] });
  send({ namespace: 'sysadm', name: 'iocage', id: 'change', args: { action, jail } });
}

socket.on('open', () => {
  send(login);
  send({ namespace: 'sysadm', name: 'iocage', id: 'create', args: { action: 'createjail', props: `tag=${jail}` } });
});
socket.on('message', (data) => {
  if (round === rounds) {
    return; // Done; late events of the last round do not matter.
  }
  const message = JSON.parse(data.toString());
  if (message.name === 'error') {
    fail(`error reply: ${JSON.stringify(message)}`);
  }
  if (message.id === 'create') {
    next();
    return;
  }
  if (message.namespace === 'events' && message.name === 'dispatcher') {
    if (message.args.state === 'running' && message.args.action === action) {
      running = true;
    }
  } else if (message.id === 'change') {
    if (!message.args[action]) {
      fail(`unexpected reply: ${JSON.stringify(message)}`);
    }
    replied = true;
  }
  if (round >= 0 && replied && running) {
    next();
  }
});
socket.on('error', (error) => fail(`socket error: ${error}`));
socket.on('close', () => {
  if (round !== rounds) {
    fail('closed early');
  }
});
setTimeout(() => fail(`timed out (replied ${replied}, running event ${running})`), 120000).unref();
