// DPoP proofs for bench/run (RFC 9449): one Ed25519 key kept in KEYFILE
// (made on first use), COUNT proofs for METHOD at HTU, each with its own
// jti, with NONCE (or none for "-") and the hash of TOKEN (or none for "-"),
// one per line on stdout.
//
//   node bench/dpop.mjs KEYFILE METHOD HTU NONCE TOKEN COUNT
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const [keyfile, method, htu, nonce, token, count] = process.argv.slice(2);
if (!existsSync(keyfile)) {
  const { privateKey } = generateKeyPairSync("ed25519");
  writeFileSync(keyfile, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
}
const key = createPrivateKey(readFileSync(keyfile));
const { kty, crv, x } = createPublicKey(key).export({ format: "jwk" });
const b64 = (value) => Buffer.from(value).toString("base64url");
const header = b64(JSON.stringify({ typ: "dpop+jwt", alg: "EdDSA", jwk: { kty, crv, x } }));
const ath = token === "-" ? undefined : createHash("sha256").update(token).digest("base64url");
const iat = Math.floor(Date.now() / 1000);
const lines = [];
for (let i = 0; i < Number(count); i++) {
  const claims = { jti: randomUUID(), htm: method, htu, iat };
  if (nonce !== "-") claims.nonce = nonce;
  if (ath) claims.ath = ath;
  const input = `${header}.${b64(JSON.stringify(claims))}`;
  lines.push(`${input}.${b64(sign(null, Buffer.from(input), key))}`);
}
process.stdout.write(lines.join("\n") + "\n");
