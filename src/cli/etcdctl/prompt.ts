// bgentry/speakeasy's Ask, which etcdctl uses for every password it prompts for (`--user name`, `user add`, `user
// passwd`): the prompt on stdout, terminal echo turned off with /bin/stty (which complains on stderr when stdin is
// not a terminal, as it does under etcdctl), one line read a byte at a time, echo back on, then a newline.

import { spawnSync } from 'node:child_process';
import { type ByteString, trimSpace } from '../../gocompat/index.js';
import { stdout } from './output.js';
import { readLineUnbuffered } from './stdin.js';

function stty(arg: string): void {
  spawnSync('/bin/stty', [arg], { stdio: 'inherit', argv0: 'stty' });
}

/** speakeasy.Ask(prompt): the line typed, without surrounding white space. */
export function askPassword(prompt: ByteString): ByteString {
  stdout(prompt);
  stty('-echo');
  let line: ByteString;
  try {
    line = readLineUnbuffered();
  } finally {
    stty('echo');
  }
  stdout('\n');
  return trimSpace(line);
}
