package pretrained

// This file provides functions to create tokenizer.PreTokenizer
// 1. BertPreTokenizer
// 2. ByteLevel
// 3. Delimiter
// 4. Metaspace
// 5. Whitespace
// 6. Sequence
// 7. Split
// 8. Punctuation
// 9. WhitespaceSplit
// 10. Digits
// 11. UnicodeScripts

import (
	"fmt"
	"strings"

	"github.com/sugarme/tokenizer"
	"github.com/sugarme/tokenizer/normalizer"
	"github.com/sugarme/tokenizer/pretokenizer"
	"github.com/sugarme/tokenizer/util"
)

func CreatePreTokenizer(config map[string]interface{}) (tokenizer.PreTokenizer, error) {
	if config == nil {
		return nil, nil
	}

	params := util.NewParams(config)
	typ := params.Get("type").(string)

	switch typ {
	case "BertPreTokenizer":
		return pretokenizer.NewBertPreTokenizer(), nil
	case "ByteLevel":
		return createByteLevelPreTokenizer(params)
	case "Delimiter":
		return createDelimiterPreTokenizer(params)
	case "Metaspace":
		return createMetaspacePreTokenizer(params)
	case "Whitespace":
		return createWhitespacePreTokenizer(params)
	case "Sequence":
		return createSequencePreTokenizer(params)
	case "WhitespaceSplit":
		return createWhitespaceSplitPreTokenizer(params)
	case "Punctuation":
		return createPunctuationPreTokenizer(params)
	case "Digits":
		return createDigitsPreTokenizer(params)
	case "UnicodeScripts":
		return createUnicodeScriptsPreTokenizer(params)
	case "Split":
		return createSplitPreTokenizer(params)

	default:
		err := fmt.Errorf("Could not create PreTokenizer from input data: %#v\n", config)
		return nil, err
	}
}

func createByteLevelPreTokenizer(params *util.Params) (tokenizer.PreTokenizer, error) {
	if params == nil {
		return nil, nil
	}

	addPrefixSpace := params.Get("add_prefix_space", false).(bool)
	trimOffsets := params.Get("trim_offsets", false).(bool)

	return &pretokenizer.ByteLevel{
		AddPrefixSpace: addPrefixSpace,
		TrimOffsets:    trimOffsets,
		NoRegex:        !params.Get("use_regex", true).(bool), // ts patch 10
	}, nil
}

func createDelimiterPreTokenizer(params *util.Params) (tokenizer.PreTokenizer, error) {
	// TODO. verify key `delimiter`
	delimiter := []rune(params.Get("delimiter").(string))[0]
	return pretokenizer.NewCharDelimiterSplit(delimiter), nil
}

func createMetaspacePreTokenizer(params *util.Params) (tokenizer.PreTokenizer, error) {
	if params == nil {
		return nil, nil
	}

	replacement := params.Get("replacement", "").(string)

	// Check for prepend_scheme parameter
	var scheme pretokenizer.PrependScheme
	if params.Has("prepend_scheme") {
		schemeStr := params.Get("prepend_scheme").(string)
		switch strings.ToLower(schemeStr) {
		case "always":
			scheme = pretokenizer.Always
		case "first":
			scheme = pretokenizer.First
		case "never":
			scheme = pretokenizer.Never
		default:
			return nil, fmt.Errorf("unknown prepend_scheme: %s", schemeStr)
		}

		return pretokenizer.NewMetaspaceWithScheme(replacement, scheme), nil
	}

	// Fallback to add_prefix_space for backward compatibility
	addPrefixSpace := params.Get("add_prefix_space", false).(bool)
	return pretokenizer.NewMetaspace(replacement, addPrefixSpace), nil
}

func createWhitespacePreTokenizer(params *util.Params) (tokenizer.PreTokenizer, error) {
	return pretokenizer.NewWhitespace(), nil
}

func createWhitespaceSplitPreTokenizer(params *util.Params) (tokenizer.PreTokenizer, error) {
	return pretokenizer.NewWhitespaceSplit(), nil
}

/*
	{
	       "type": "Punctuation",
	       "behavior": "Contiguous"
	     },
*/
func createPunctuationPreTokenizer(params *util.Params) (tokenizer.PreTokenizer, error) {
	behaviorVal := params.Get("behavior").(string)

	var b normalizer.SplitDelimiterBehavior
	switch behaviorVal {
	case "Removed":
		b = normalizer.RemovedBehavior
	case "Isolated":
		b = normalizer.IsolatedBehavior
	case "MergedWithNext":
		b = normalizer.MergedWithNextBehavior
	case "MergedWithPrevious":
		b = normalizer.MergedWithPreviousBehavior
	case "Contiguous":
		b = normalizer.ContiguousBehavior

	default:
		err := fmt.Errorf("Unsupported behavior: %#v\n", behaviorVal)
		return nil, err
	}

	return pretokenizer.NewPunctuation(b), nil
}

/*
	{
	        "type": "Digits",
	        "individual_digits": false
	      },
*/
func createDigitsPreTokenizer(params *util.Params) (tokenizer.PreTokenizer, error) {
	individualDigits := params.Get("individual_digits").(bool)

	return pretokenizer.NewDigits(individualDigits), nil
}

func createUnicodeScriptsPreTokenizer(params *util.Params) (tokenizer.PreTokenizer, error) {
	return pretokenizer.NewUnicodeScript(), nil
}

/*
	{
	    "type": "Split",
	    "pattern": {
	      "Regex": "[0-9][0-9][0-9]"
	    },
	    "behavior": "Isolated",
	    "invert": false
	  }
*/
func createSplitPreTokenizer(params *util.Params) (tokenizer.PreTokenizer, error) {
	if params == nil {
		return nil, nil
	}

	patternMap := params.Get("pattern").(map[string]interface{})
	behaviorVal := params.Get("behavior").(string)
	invert := params.Get("invert").(bool)

	var pattern normalizer.Pattern
	if v, ok := patternMap["Regex"]; ok {
		// ts patch 10: in Oniguruma's dialect, as Hugging Face's (look-around, Unicode \s)
		p, err := normalizer.NewOnigPattern(v.(string))
		if err != nil {
			return nil, fmt.Errorf("Split pattern %q: %w", v, err)
		}
		pattern = p
	} else if v, ok := patternMap["String"]; ok {
		pattern = normalizer.NewStringPattern(v.(string)) // ts patch 10: a string is literal (upstream took it as an expression)
	} else {
		err := fmt.Errorf("Unsupported pattern: %#v\n", patternMap)
		return nil, err
	}

	var b normalizer.SplitDelimiterBehavior
	switch behaviorVal {
	case "Removed":
		b = normalizer.RemovedBehavior
	case "Isolated":
		b = normalizer.IsolatedBehavior
	case "MergedWithNext":
		b = normalizer.MergedWithNextBehavior
	case "MergedWithPrevious":
		b = normalizer.MergedWithPreviousBehavior
	case "Contiguous":
		b = normalizer.ContiguousBehavior

	default:
		err := fmt.Errorf("Unsupported behavior: %#v\n", behaviorVal)
		return nil, err
	}

	return pretokenizer.NewSplit(pattern, b, invert), nil
}

func createSequencePreTokenizer(params *util.Params) (tokenizer.PreTokenizer, error) {
	var pretoks []tokenizer.PreTokenizer

	data := params.Get("pretokenizers").([]interface{})
	for _, d := range data {
		pretok, err := CreatePreTokenizer(d.(map[string]interface{}))
		if err != nil {
			return nil, err
		}
		pretoks = append(pretoks, pretok)
	}

	out := pretokenizer.NewSequence(pretoks)

	return out, nil
}
