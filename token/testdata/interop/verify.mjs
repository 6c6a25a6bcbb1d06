// Verifies tokens with panva/jose against a JWKS, as a third party would.
// Usage: node verify.mjs CASES.json
// CASES.json: {"jwks": {...}, "issuer": "...", "audience": "...",
//              "cases": [{"name": "...", "token": "...", "valid": true}]}
// Prints one line per case and exits 1 if any outcome differs from "valid".
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify } from 'jose';

const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const jwks = createLocalJWKSet(input.jwks);
let failures = 0;
for (const c of input.cases) {
  let ok = false;
  let detail = '';
  try {
    const { payload, protectedHeader } = await jwtVerify(c.token, jwks, {
      issuer: input.issuer,
      audience: input.audience,
      typ: 'at+jwt',
      algorithms: ['EdDSA', 'ES256', 'RS256'],
      currentDate: new Date(input.now * 1000),
      requiredClaims: ['exp', 'iat', 'jti'],
    });
    ok = true;
    detail = `alg=${protectedHeader.alg} sub=${payload.sub}`;
  } catch (err) {
    detail = `${err.code ?? err.name}: ${err.message}`;
  }
  const pass = ok === c.valid;
  if (!pass) failures++;
  console.log(`${pass ? 'ok  ' : 'FAIL'} ${c.name}: ${ok ? 'verified' : 'refused'} (${detail})`);
}
process.exit(failures === 0 ? 0 : 1);
