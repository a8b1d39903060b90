/** `esoz sign <file.json> --tax-id <id>`: POST /admin/sign, the base64 CMS the sign and cancel routes take. */
import { Command, Option } from '@commander-js/extra-typings';
import { DEMO } from '../sandbox/demo-data.ts';
import { AdminClient, adminKeyOption, urlOption } from './client.ts';
import { readJson } from './io.ts';

export const signCommand = () =>
  new Command('sign')
    .description('sign a JSON file with a sandbox test key for a tax id; prints the base64 CMS')
    .argument('<file.json>', 'what to sign, byte for byte (- reads standard input)')
    .addOption(
      new Option(
        '--tax-id <id>',
        `the signer's tax id (РНОКПП) or passport; the demo doctor's is ${DEMO.doctorTaxId}`,
      ).makeOptionMandatory(),
    )
    .option('--body', 'print {"data": "<base64>"}, the body of PATCH …/sign (for curl -d @-)')
    .addOption(urlOption())
    .addOption(adminKeyOption())
    .addHelpText(
      'after',
      `
Works when the server accepts test keys (SIGNATURE_TRUST=any-test-ca, the embedded sandbox's default).
Example, the demo doctor signing a composition saved as composition.json:
  esoz sign composition.json --tax-id ${DEMO.doctorTaxId} --body | curl -s -X PATCH "$BASE_URL/api/patients/composition/<id>/sign" \\
    -H "Authorization: Bearer $TOKEN" -H "api-key: $API_KEY" -H 'content-type: application/json' -d @-`,
    )
    .action(async (file, opts) => {
      // the text itself is what gets signed (its bytes are what the server parses back); JSON.parse only checks it first
      const { text } = readJson(file);
      const admin = new AdminClient(opts);
      const signed = await admin.call<{ data: string }>({
        method: 'POST',
        path: '/admin/sign',
        body: { content: text, tax_id: opts.taxId },
        action: `signing ${file}`,
      });
      process.stdout.write(opts.body ? `${JSON.stringify({ data: signed.data })}\n` : `${signed.data}\n`);
    });
