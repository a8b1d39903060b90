/** `esoz sms [--follow] [--phone …]`: the SMS inbox of the sandbox (GET /admin/sms), newest last. */
import { setTimeout as sleep } from 'node:timers/promises';
import { Command, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { AdminClient, adminKeyOption, urlOption } from './client.ts';

interface Sms {
  id: string;
  phone_number: string;
  body: string;
  status: string;
  entity_name: string | null;
  entity_id: string | null;
  inserted_at: string;
}

/** GET /admin/sms answers at most this many a page. */
const PAGE_SIZE_MAX = 100;
/** --follow reads at most this many pages a poll: more SMS than that within one interval are a load test, not a tail. */
const FOLLOW_PAGES_MAX = 20;

function count(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`a whole number from 1 to ${max}`);
    return n;
  };
}

/** One SMS a line: when, to whom, its delivery status, what it is about, the text. */
const line = (s: Sms) =>
  `${s.inserted_at}  ${s.phone_number}  ${s.status.padEnd(7)}  ${s.entity_name ?? '-'} ${s.entity_id ?? '-'}  ${s.body.replace(/\s+/g, ' ')}\n`;

export const smsCommand = () =>
  new Command('sms')
    .description('show the SMS the sandbox sent (newest last); --follow keeps printing new ones until Ctrl-C')
    .option('-f, --follow', 'keep polling and print each new SMS (and each change of its status)')
    .option('--phone <number>', 'only the SMS to this phone number (+380…)')
    .addOption(new Option('-n, --last <count>', 'how many of the newest to show first').default(20).argParser(count(PAGE_SIZE_MAX)))
    .option('--json', 'one JSON object a line, as GET /admin/sms gives each SMS (for jq and scripts)')
    .addOption(new Option('--interval <ms>', 'how often --follow asks').default(1000).argParser(count(60_000)))
    .addOption(urlOption())
    .addOption(adminKeyOption())
    .action(async (opts) => {
      const admin = new AdminClient(opts);
      /** A page of the inbox, newest first. */
      const page = async (size: number, pageNo = 1) => {
        const query = new URLSearchParams({ page_size: String(size) });
        if (pageNo > 1) query.set('page', String(pageNo));
        if (opts.phone) query.set('phone_number', opts.phone);
        return admin.call<Sms[]>({ method: 'GET', path: `/admin/sms?${query}`, action: 'reading the SMS inbox' });
      };
      const newest = async (n: number) => (await page(n)).reverse();
      /** Everything since the last poll, oldest first: pages until one reaches an SMS already seen (at most FOLLOW_PAGES_MAX). */
      const sinceLastPoll = async () => {
        // SMS arriving between two pages shift the next page: a row met twice keeps its place and its later copy (its newer status)
        const rows = new Map<string, Sms>();
        for (let pageNo = 1; pageNo <= FOLLOW_PAGES_MAX; pageNo++) {
          const batch = await page(PAGE_SIZE_MAX, pageNo);
          for (const s of batch) rows.set(s.id, s);
          if (batch.length < PAGE_SIZE_MAX || batch.some((s) => printed.has(s.id))) break;
        }
        return [...rows.values()].reverse();
      };
      // what was printed, by id: a row is printed again only when its status changes (PENDING → SENT/FAILED)
      const printed = new Map<string, string>();
      const show = (rows: Sms[]) => {
        for (const s of rows) {
          if (printed.get(s.id) === s.status) continue;
          printed.set(s.id, s.status);
          process.stdout.write(opts.json ? `${JSON.stringify(s)}\n` : line(s));
        }
      };
      const first = await newest(opts.follow ? PAGE_SIZE_MAX : opts.last);
      // --follow: the older ones fetched count as seen, so that its first poll does not print them after the newest
      for (const s of first.slice(0, -opts.last)) printed.set(s.id, s.status);
      show(first.slice(-opts.last));
      if (!opts.follow) return;
      // Ctrl-C is how --follow ends: a normal end, not a failure (writes to a terminal, file or pipe are synchronous)
      process.once('SIGINT', () => process.exit(0));
      for (;;) {
        await sleep(opts.interval);
        show(await sinceLastPoll());
      }
    });
