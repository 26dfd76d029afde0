//! Placeholder: replaced by the real type.

#[derive(Debug, Clone, Default)]
pub struct Hash {
    _private: (),
}

impl Hash {
    /// The name OBJECT ENCODING reports.
    pub fn encoding_name(&self) -> &'static str {
        "listpack"
    }

    pub fn len(&self) -> usize {
        0
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
