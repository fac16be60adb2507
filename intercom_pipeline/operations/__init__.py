"""Operations: what tells the people running the pipeline that it needs them (failure notices)."""
