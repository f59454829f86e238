"""Where servers come from: config files, classification, npx/uvx resolution."""
