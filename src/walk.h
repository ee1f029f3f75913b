/* walk.h - the folder walks (walk.c, in the API layer: it knows what a photo is (image/) and
 * what an ImageNet class folder is (model/); internal): the photos under a folder are
 * resnet_list_images (resnet.h); a labelled folder is read here.
 *
 * "One folder per class" means one thing to every command (eval, train-head; docs/usage.md,
 * "Folders of labelled photos"): every folder directly in DIR whose name does not start with
 * '.' is a class folder, named by its folder; its photos are all that resnet_list_images
 * finds below it, at any depth. Files directly in DIR belong to no class. Which names stand
 * for a class depends on the command:
 *   RN_CLASSES_IMAGENET  ImageNet's classes: a WordNet id (n01440764) or an index 0..999;
 *                        a folder named otherwise gets label -1 (not a class);
 *   RN_CLASSES_ANY       any name is a class (a new head's): label is the folder's position. */
#ifndef RN_WALK_H
#define RN_WALK_H

#include "resnet.h"

typedef enum rn_class_names { RN_CLASSES_ANY, RN_CLASSES_IMAGENET } rn_class_names;

typedef struct rn_class_folder {
    char *name;              /* the folder's name */
    char *path;              /* DIR/name */
    int label;               /* see above; -1: not a class */
    resnet_file_list photos; /* sorted; paths are path + "/" + relative path */
    int ignored;             /* files below it that are not photos */
} rn_class_folder;

typedef struct rn_class_tree {
    rn_class_folder *folders; /* sorted by name */
    int n;
    int loose; /* files directly in DIR */
} rn_class_tree;

/* Reads DIR as a folder per class. Errors (DIR missing, not a folder, unreadable, out of
 * memory) name DIR; a class folder that cannot be read is a problem in its photos list. */
resnet_status rn_list_classes(const char *dir, rn_class_names names, rn_class_tree *out, resnet_error *err);
void rn_class_tree_free(rn_class_tree *t);

/* The ImageNet class a folder name stands for: a WordNet id or a whole index 0..999 written
 * with digits only; -1 if neither. */
int rn_imagenet_folder_class(const char *name);

#endif
