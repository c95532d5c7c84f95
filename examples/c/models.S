/* The model files in flash, for lstm_cli.c built with
   -DLSTM_EMBEDDED_MODELS: -DCLASSIFIER_MODEL="/abs/file" and
   -DCHARLM_MODEL="/abs/file" name them. Aligned to 8 bytes, read in place. */
    .section .rodata.lstm_models, "a"
    .balign 8
    .global lstm_classifier_model, lstm_classifier_model_end
lstm_classifier_model:
    .incbin CLASSIFIER_MODEL
lstm_classifier_model_end:
    .balign 8
    .global lstm_charlm_model, lstm_charlm_model_end
lstm_charlm_model:
    .incbin CHARLM_MODEL
lstm_charlm_model_end:
