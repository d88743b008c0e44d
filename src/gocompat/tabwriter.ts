// Go's text/tabwriter, as etcdctl formats its help with it: tabwriter.Init(out, 0, 8, 1, '\t', 0). Cells are
// tab-terminated; a column block is a run of consecutive lines with a cell in that column; each cell is padded with
// tabs to the block's widest cell plus padding, rounded up to the tab width. Widths count runes.

import { runeCount, type ByteString } from './utf8.js';

interface Cell {
  size: number;
  width: number;
  htab: boolean;
}

export interface TabWriterOptions {
  minwidth: number;
  tabwidth: number;
  padding: number;
  padchar: string;
}

export class TabWriter {
  private buf = '';
  private pos = 0;
  private cell: Cell = { size: 0, width: 0, htab: false };
  private lines: Cell[][] = [[]];
  private widths: number[] = [];
  private out = '';

  constructor(private readonly options: TabWriterOptions) {}

  private reset(): void {
    this.buf = '';
    this.pos = 0;
    this.cell = { size: 0, width: 0, htab: false };
    this.lines = [[]];
    this.widths = [];
  }

  private append(text: string): void {
    this.buf += text;
    this.cell.size += text.length;
  }

  private updateWidth(): void {
    this.cell.width += runeCount(this.buf.slice(this.pos));
    this.pos = this.buf.length;
  }

  private terminateCell(htab: boolean): number {
    this.cell.htab = htab;
    const line = this.lines[this.lines.length - 1]!;
    line.push(this.cell);
    this.cell = { size: 0, width: 0, htab: false };
    return line.length;
  }

  private writePadding(textw: number, cellw: number): void {
    const { tabwidth, padchar } = this.options;
    if (padchar === '\t') {
      if (tabwidth === 0) return;
      cellw = Math.ceil(cellw / tabwidth) * tabwidth;
      const n = cellw - textw;
      this.out += '\t'.repeat(Math.ceil(n / tabwidth));
      return;
    }
    this.out += padchar.repeat(cellw - textw);
  }

  private writeLines(pos0: number, line0: number, line1: number): number {
    let pos = pos0;
    for (let i = line0; i < line1; i++) {
      const line = this.lines[i]!;
      for (let j = 0; j < line.length; j++) {
        const c = line[j]!;
        if (c.size === 0) {
          if (j < this.widths.length) this.writePadding(c.width, this.widths[j]!);
        } else {
          this.out += this.buf.slice(pos, pos + c.size);
          pos += c.size;
          if (j < this.widths.length) this.writePadding(c.width, this.widths[j]!);
        }
      }
      if (i + 1 === this.lines.length) {
        this.out += this.buf.slice(pos, pos + this.cell.size);
        pos += this.cell.size;
      } else {
        this.out += '\n';
      }
    }
    return pos;
  }

  private format(pos0: number, line0: number, line1: number): number {
    let pos = pos0;
    const column = this.widths.length;
    for (let current = line0; current < line1; current++) {
      let line = this.lines[current]!;
      if (column >= line.length - 1) continue;
      pos = this.writeLines(pos, line0, current);
      line0 = current;
      let width = this.options.minwidth;
      for (; current < line1; current++) {
        line = this.lines[current]!;
        if (column >= line.length - 1) break;
        const c = line[column]!;
        const w = c.width + this.options.padding;
        if (w > width) width = w;
      }
      this.widths.push(width);
      pos = this.format(pos, line0, current);
      this.widths.pop();
      line0 = current;
    }
    return this.writeLines(pos, line0, line1);
  }

  private flushInternal(): void {
    if (this.cell.size > 0) this.terminateCell(false);
    this.format(0, 0, this.lines.length);
    this.reset();
  }

  write(text: ByteString): void {
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (ch === '\t' || ch === '\v' || ch === '\n' || ch === '\f') {
        this.append(text.slice(n, i));
        this.updateWidth();
        n = i + 1;
        const ncells = this.terminateCell(ch === '\t');
        if (ch === '\n' || ch === '\f') {
          this.lines.push([]);
          if (ch === '\f' || ncells === 1) this.flushInternal();
        }
      }
    }
    this.append(text.slice(n));
  }

  /** Flushes and returns everything formatted so far. */
  flush(): ByteString {
    this.flushInternal();
    const out = this.out;
    this.out = '';
    return out;
  }
}

/** etcdctl's getTabOutWithWriter settings. */
export function formatTabbed(text: ByteString): ByteString {
  const w = new TabWriter({ minwidth: 0, tabwidth: 8, padding: 1, padchar: '\t' });
  w.write(text);
  return w.flush();
}
