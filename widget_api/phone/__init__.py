"""The phone channel: OpenAI SIP calls and Twilio Media Streams, answered by a company's rep."""
