package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/clipkit/clipkit/cliplib/tokenizer"
	"github.com/spf13/cobra"
)

func init() {
	addCommand("", newTokenizeCmd)
}

// tokenizeOptions are the flags of clipx tokenize.
type tokenizeOptions struct {
	vocab string
}

func newTokenizeCmd() *cobra.Command {
	o := &tokenizeOptions{}
	c := &cobra.Command{
		Use:   "tokenize [--vocab FILE] < lines.txt",
		Short: "read UTF-8 lines on stdin, print one JSON array of 77 token ids per line",
		Long: `Read UTF-8 lines on standard input and print, for each, one JSON array of the 77 token ids
CLIP's text tower takes. A line that is not valid UTF-8 is an error naming its number.`,
		Example: `  echo "a photo of a cat" | clipx tokenize
  clipx tokenize --vocab bpe_simple_vocab_16e6.txt.gz < prompts.txt`,
		Args: noArgs(" (text is read from stdin)"),
		RunE: func(*cobra.Command, []string) error { return runTokenize(o) },
	}
	c.Flags().StringVar(&o.vocab, "vocab", "", "BPE vocabulary: bpe_simple_vocab_16e6.txt.gz, or an HF vocab.json (merges.txt beside it); default: the bundled CLIP vocabulary")
	return c
}

func runTokenize(o *tokenizeOptions) error {
	tok, err := loadTokenizer(o.vocab)
	if err != nil {
		return err
	}
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(in, maxTokenizeLine)
		if errors.Is(err, errLineTooLong) {
			return fmt.Errorf("line %d: %w", lineNo, err)
		}
		if line == "" && err != nil {
			break
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if !utf8Valid(line) {
			return fmt.Errorf("line %d is not valid UTF-8", lineNo)
		}
		ids := tok.Tokenize(line)
		b, _ := json.Marshal(ids)
		out.Write(b)
		out.WriteByte('\n')
		if err != nil {
			break
		}
	}
	return nil
}

// maxTokenizeLine bounds one input line of clipx tokenize (the tokenizer itself stops after the
// 77 ids it keeps, but the line is held in memory).
const maxTokenizeLine = 64 << 20

var errLineTooLong = fmt.Errorf("longer than %d bytes (CLIP keeps 77 tokens; split or shorten the text)", maxTokenizeLine)

// readLine reads one line (with its '\n', if any) of at most max bytes.
func readLine(in *bufio.Reader, max int) (string, error) {
	var b []byte
	for {
		chunk, err := in.ReadSlice('\n')
		if len(b)+len(chunk) > max {
			return "", errLineTooLong
		}
		b = append(b, chunk...)
		if err != bufio.ErrBufferFull {
			return string(b), err
		}
	}
}

// loadTokenizer loads the bundled vocabulary, an OpenAI .txt.gz merges file, or an HF vocab.json
// with its merges.txt.
func loadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	switch {
	case path == "":
		return tokenizer.Default()
	case strings.HasSuffix(path, ".json"):
		return tokenizer.LoadHF(path, filepath.Join(filepath.Dir(path), "merges.txt"))
	default:
		if st, err := os.Stat(path); err == nil && st.IsDir() {
			return tokenizer.LoadHF(filepath.Join(path, "vocab.json"), filepath.Join(path, "merges.txt"))
		}
		return tokenizer.Load(path)
	}
}
