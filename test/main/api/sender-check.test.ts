import { describe, expect, it } from 'vitest';
import { isAppPage, isTrustedSender } from '../../../src/main/api/sender-check.js';

const file = { fileUrl: 'file:///opt/Tessera/resources/app/out/renderer/index.html' };
const dev = { devServer: 'http://localhost:5173' };
const main = { isMainWindow: true, isTopFrame: true };

describe('the IPC sender check', () => {
  it('accepts the main window top frame on the built page (hash and query ignored) or the dev server origin', () => {
    expect(
      isTrustedSender({ ...main, frameUrl: 'file:///opt/Tessera/resources/app/out/renderer/index.html' }, file),
    ).toBe(true);
    expect(
      isTrustedSender({ ...main, frameUrl: 'file:///opt/Tessera/resources/app/out/renderer/index.html#/jobs' }, file),
    ).toBe(true);
    expect(isTrustedSender({ ...main, frameUrl: 'http://localhost:5173/jobs?x=1' }, dev)).toBe(true);
  });

  it('refuses another window, an iframe, a gone frame', () => {
    const url = 'file:///opt/Tessera/resources/app/out/renderer/index.html';
    expect(isTrustedSender({ isMainWindow: false, isTopFrame: true, frameUrl: url }, file)).toBe(false);
    expect(isTrustedSender({ isMainWindow: true, isTopFrame: false, frameUrl: url }, file)).toBe(false);
    expect(isTrustedSender({ ...main, frameUrl: null }, file)).toBe(false);
  });

  it('refuses other pages: another local file, a remote page, a look-alike dev origin, garbage', () => {
    expect(isAppPage('file:///tmp/evil.html', file)).toBe(false);
    expect(isAppPage('file:///opt/Tessera/resources/app/out/renderer/index.html.evil', file)).toBe(false);
    expect(isAppPage('https://evil.example/index.html', file)).toBe(false);
    expect(isAppPage('http://localhost:5173@evil.example/', dev)).toBe(false);
    expect(isAppPage('http://localhost:51730/', dev)).toBe(false);
    expect(isAppPage('http://localhost:5174/', dev)).toBe(false);
    expect(isAppPage('https://localhost:5173/', dev)).toBe(false);
    expect(isAppPage('data:text/html,hi', dev)).toBe(false);
    expect(isAppPage('not a url', file)).toBe(false);
  });
});
