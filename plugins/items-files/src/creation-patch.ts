/**
 * The unified diff that shows a text file made from nothing, exactly as the `diff`
 * package prints it (Index and === lines dropped, trailing white space trimmed), built
 * without it: a cold apply describes every new file, and a Myers diff against an empty
 * file is only a list of added lines. Undefined for text with a carriage return, whose
 * line splitting is left to the library.
 */
export function creationPatch(name: string, text: string): string | undefined {
  if (text.includes('\r')) return undefined;
  const header = `--- ${name}\n+++ ${name}`;
  if (text === '') return header;
  const lines = text.split('\n');
  const newlineAtEnd = lines[lines.length - 1] === '';
  if (newlineAtEnd) lines.pop();
  const added = `+${lines.join('\n+')}`;
  const patch = `${header}\n@@ -0,0 +1,${String(lines.length)} @@\n${added}${newlineAtEnd ? '' : '\n\\ No newline at end of file'}`;
  return patch.trimEnd();
}
