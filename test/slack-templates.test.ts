import { compileTemplate, render, TemplateError } from '../connectors/destinations/slack-templates';

const text = (source: string, row: Record<string, unknown>) => render(compileTemplate(source, 'syncs.t.template'), row);

test('mrkdwn special characters in values are escaped', () => {
  expect(text('*{{ name }}* says {{ quote }}', { name: 'A&B <Ltd>', quote: '<!channel> & "hi"' })).toBe(
    '*A&amp;B &lt;Ltd&gt;* says &lt;!channel&gt; &amp; "hi"',
  );
});

test('the raw filter lets a value through unescaped, and the template text itself is never escaped', () => {
  expect(text('<{{ url | raw }}|{{ label }}> & more', { url: 'https://x.test/?a=1&b=2', label: 'A<B' })).toBe(
    '<https://x.test/?a=1&b=2|A&lt;B> & more',
  );
});

test('number, currency and percent format with thousands separators', () => {
  const row = { mrr: 1234567.891, big: '9007199254740993', ratio: 0.1234, none: null };
  expect(text('{{ mrr | number }} {{ mrr | number: 0 }} {{ mrr | number: 3 }} {{ big | number }}', row)).toBe(
    '1,234,567.89 1,234,568 1,234,567.891 9,007,199,254,740,992',
  );
  expect(text("{{ mrr | currency }} {{ mrr | currency: 'eur', 0 }}", row)).toBe('$1,234,567.89 €1,234,568');
  expect(text('{{ ratio | percent }} {{ ratio | percent: 1 }}', row)).toBe('12% 12.3%');
  expect(text('[{{ none | number }}{{ none | currency }}{{ none | percent }}]', row)).toBe('[]');
});

test('dates render in UTC whatever the worker time zone', () => {
  const row = { at: '2024-05-01T23:30:00+02:00' };
  expect(text('{{ at | date_iso }} / {{ at | date: "%Y-%m-%d %H:%M" }}', row)).toBe(
    '2024-05-01T21:30:00.000Z / 2024-05-01 21:30',
  );
});

test('an unknown filter is a parse error naming where the template lives, with line and column', () => {
  const error = (() => {
    try {
      compileTemplate('Hello\n{{ name | shout }}', 'syncs.at-risk-to-slack.template');
    } catch (e) {
      return e;
    }
  })();
  expect(error).toBeInstanceOf(TemplateError);
  expect((error as TemplateError).message).toBe(
    'syncs.at-risk-to-slack.template: the Liquid template does not parse: undefined filter: shout, line:2, col:1',
  );
});

test('an unclosed tag is a parse error', () => {
  expect(() => compileTemplate('{% if vip %}VIP', 'syncs.t.template')).toThrow(
    /syncs\.t\.template: .*tag \{% if vip %\} not closed/,
  );
});

test('a variable the row does not have fails rendering instead of leaving a hole', () => {
  expect(() => text('{{ nmae }}', { name: 'x' })).toThrow(
    'syncs.t.template: the Liquid template failed on this row: undefined variable: nmae, line:1, col:4',
  );
  expect(text('{% if owner %}{{ owner }}{% else %}nobody{% endif %}', { owner: null })).toBe('nobody');
});

test('a template lists the columns it reads', () => {
  expect(
    compileTemplate('{{ name }} {% for t in tags %}{{ t }}{% endfor %} {{ account.owner }}', 'w').variables,
  ).toEqual(['name', 'tags', 'account']);
});

test('blocks templates keep values inside JSON strings, escaped for mrkdwn', () => {
  const blocks = compileTemplate(
    '[{"type":"section","text":{"type":"mrkdwn","text":"*{{ name }}*"}}]',
    'syncs.t.blocks',
    'json',
  );
  const rendered = render(blocks, { name: 'Say "hi" <b>\\ \n' });
  expect(JSON.parse(rendered)).toEqual([
    { type: 'section', text: { type: 'mrkdwn', text: '*Say "hi" &lt;b&gt;\\ \n*' } },
  ]);
});
