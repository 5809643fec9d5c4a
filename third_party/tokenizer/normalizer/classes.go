package normalizer

// ts patch 9: Hugging Face's regular expressions run in Rust's regex crate, whose \w and \s
// are Unicode's; Go's regexp takes them as ASCII only, so the pre-tokenisers' expressions
// are written with these classes instead.
const (
	// WordClass is Rust's \w: Alphabetic (letters, letter numbers and the alphabetic
	// symbols such as Ⓐ), marks, decimal digits, connector punctuation and the zero-width
	// joiners.
	WordClass = `\p{L}\p{Nl}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}\x{24B6}-\x{24E9}\x{1F130}-\x{1F149}\x{1F150}-\x{1F169}\x{1F170}-\x{1F189}`
	// SpaceClass is Rust's \s: White_Space.
	SpaceClass = `\t\n\v\f\r\x{85}\p{Z}`
)
