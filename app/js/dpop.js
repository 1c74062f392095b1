// DPoP proofs (RFC 9449) for the board's own pages, in the language of
// the APIs they use: WebCrypto signs, IndexedDB keeps the key for every tab.
// `app/src/dpop.rs` adds this file to a page the first time the page proves
// anything, and calls `classboardProof`; the server serves it under a name
// carrying a hash of its content. As Rust glue it weighed 12 KB of a page's
// first visit; here it weighs 0.9 KB (docs/FRONTEND.md, "Size").
// The server trims each line and drops the lines that are comments: no
// string here may span lines.
//
// The key is ES256, made once per browser; its private half cannot be
// exported (`extractable: false`). A browser without WebCrypto or IndexedDB
// gets no proof (`null`), and its requests go with bearer tokens.
"use strict";
{
  // The site's one database, shared with `app/src/idb.rs`: the same name,
  // version and stores, made by whichever opens it first.
  const DATABASE = "classboard";
  const VERSION = 2;
  const STORES = ["refresh", "keys"];
  const STORE = "keys";
  const RECORD = "dpop";
  const text = new TextEncoder();
  const subtle = self.crypto && crypto.subtle;

  const settle = (request) =>
    new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });

  // Opens the database for one transaction, closed again after it, so an
  // older page never blocks a newer one's upgrade for long.
  const withStore = async (mode, act) => {
    const opening = indexedDB.open(DATABASE, VERSION);
    opening.onupgradeneeded = () => {
      for (const name of STORES) {
        if (!opening.result.objectStoreNames.contains(name)) opening.result.createObjectStore(name);
      }
    };
    const db = await settle(opening);
    try {
      const transaction = db.transaction(STORE, mode);
      const [result] = await Promise.all([
        settle(act(transaction.objectStore(STORE))),
        new Promise((resolve, reject) => {
          transaction.oncomplete = resolve;
          transaction.onerror = transaction.onabort = () => reject(transaction.error);
        }),
      ]);
      return result;
    } finally {
      db.close();
    }
  };

  // Base64url without padding (RFC 7515 §2).
  const b64 = (bytes) =>
    btoa(String.fromCharCode(...new Uint8Array(bytes)))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");

  const stored = async () => {
    const record = await withStore("readonly", (store) => store.get(RECORD));
    return record && record.private && typeof record.header === "string" ? record : null;
  };

  // Makes a key and stores it, then reads back the one stored: `add`, not
  // `put`, so that of two tabs making one at the same moment the first to
  // commit wins and the other takes that one.
  const made = async () => {
    const pair = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign"]);
    const { x, y } = await subtle.exportKey("jwk", pair.publicKey);
    const jwk = { kty: "EC", crv: "P-256", x, y };
    const header = b64(text.encode(JSON.stringify({ typ: "dpop+jwt", alg: "ES256", jwk })));
    await withStore("readwrite", (store) => store.add({ private: pair.privateKey, header }, RECORD)).catch(() => {});
    return stored();
  };

  // This browser's key, looked up once per page; a lookup that failed is
  // tried again at the next proof, so a moment's failure of IndexedDB does
  // not leave the page without its key.
  let key = null;
  const keyOf = async () => (key = key || (await stored()) || (await made()));

  // A proof for `htm` on `htu` at `iat` (seconds, by the server's clock),
  // with the server's `nonce` and the hash of `token` when they are given;
  // `null` when this browser cannot keep a key.
  self.classboardProof = async (htm, htu, iat, nonce, token) => {
    try {
      const { private: signing, header } = await keyOf();
      const claims = { jti: crypto.randomUUID(), htm, htu, iat };
      if (nonce) claims.nonce = nonce;
      if (token) claims.ath = b64(await subtle.digest("SHA-256", text.encode(token)));
      const input = `${header}.${b64(text.encode(JSON.stringify(claims)))}`;
      const signature = await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, signing, text.encode(input));
      return `${input}.${b64(signature)}`;
    } catch {
      return null;
    }
  };
}
